/**
 * The Duplex contract of embedded connections (TubeStream), on two real Channels over the in-memory port
 * pair: an offering channel whose connections are opened from code (`openStream`) and a gateway channel in
 * handler mode. Backpressure, half-close both ways, destroy with a reason, abort before and after open,
 * refused open, the peer closing during a write.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { TubeStream } from '../../src/channel/tube-stream.ts';
import type { ChannelLimits } from '../../src/channel/types.ts';
import { ErrorCode, TubesError } from '../../src/errors.ts';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import { settle, until } from '../helpers/channel-harness.ts';
import { type ChannelPair, channelPair, closeChannelPairs } from '../helpers/channel-pair.ts';

afterEach(closeChannelPairs);

/** The gateway echoes by default. */
function pair(
  handler: (stream: TubeStream, connNo: number) => void = (s) => void s.pipe(s),
  limits?: Partial<ChannelLimits>,
): ChannelPair {
  return channelPair('conv-embed', handler, limits);
}

/** Resolves on 'close' (unlike events.once, an 'error' before it does not reject). */
function closed(stream: TubeStream): Promise<void> {
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

function collect(stream: TubeStream): { data: () => Buffer; ended: Promise<unknown> } {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { data: () => Buffer.concat(chunks), ended: once(stream, 'end') };
}

describe('embedded connections: open', () => {
  it('resolves on ConnectionOpened; bytes go both ways; end() both ways closes with Normal', async () => {
    const p = pair();
    const client = await p.offerer.openStream();
    expect(client.connNo).toBe(1);
    expect(p.served).toHaveLength(1);
    const got = collect(client);
    const clientClosed = closed(client);
    client.write('hello ');
    client.end('world');
    await got.ended;
    expect(got.data().toString()).toBe('hello world');
    await clientClosed;
    await until(() => p.gateway.stats().activeConnections === 0, 'gateway released');
    expect(p.offerer.stats().activeConnections).toBe(0);
    expect(p.gatewaySink.connectionsClosed.get(CloseConnectionReason.Normal)).toBe(1);
    expect(p.offererSink.connectionsOpened).toBe(1);
    expect(p.gatewaySink.connectionsOpened).toBe(1);
    expect(p.gateway.stats().connectionBytesFromPeer).toBe(11);
    expect(p.gateway.stats().connectionBytesToPeer).toBe(11);
  });

  it('a handler that throws refuses: TUBES_ERR_CONNECTION_REFUSED with its reason and text', async () => {
    const p = pair(() => {
      throw Object.assign(new Error('no capacity'), { closeReason: CloseConnectionReason.ServerRefuse });
    });
    const err = await p.offerer.openStream().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TubesError);
    expect((err as TubesError).code).toBe(ErrorCode.CONNECTION_REFUSED);
    expect((err as TubesError).closeReason).toBe(CloseConnectionReason.ServerRefuse);
    expect((err as TubesError).message).toBe('no capacity');
    expect(p.gatewaySink.connectionsOpened).toBe(0);
  });

  it('a handler that destroys the stream (no reason given) refuses with HandlerError', async () => {
    const p = pair((s) => {
      s.on('error', () => {});
      s.destroy(new Error('not today'));
    });
    const err = (await p.offerer.openStream().catch((e: unknown) => e)) as TubesError;
    expect(err.code).toBe(ErrorCode.CONNECTION_REFUSED);
    expect(err.closeReason).toBe(CloseConnectionReason.HandlerError);
    expect(err.message).toBe('not today');
  });

  it('writes made inside the handler go out after ConnectionOpened', async () => {
    const p = pair((s) => void s.write('banner'));
    const client = await p.offerer.openStream();
    const [chunk] = (await once(client, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('banner');
  });

  it('abort before open: rejected with AbortError and nothing is sent', async () => {
    const p = pair();
    await settle();
    const before = p.ports.a.sentMessages;
    const ac = new AbortController();
    ac.abort();
    const err = (await p.offerer.openStream(ac.signal).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('AbortError');
    await settle();
    expect(p.ports.a.sentMessages).toBe(before);
    expect(p.served).toHaveLength(0);
  });

  it('abort while opening: rejected with AbortError; the gateway sees CloseConnection(Client)', async () => {
    const p = pair((s) => s.on('error', () => {}));
    p.ports.b.hold(); // ConnectionOpened stays queued
    const ac = new AbortController();
    const opening = p.offerer.openStream(ac.signal).catch((e: unknown) => e);
    await until(() => p.served.length === 1, 'handler called');
    ac.abort();
    const err = (await opening) as Error;
    expect(err.name).toBe('AbortError');
    await closed(p.served[0] as TubeStream);
    expect((p.served[0] as TubeStream).closeReason).toBe(CloseConnectionReason.Client);
    p.ports.b.release();
  });

  it('abort after open destroys the stream; the gateway stream is destroyed with reason Client', async () => {
    const p = pair((s) => s.on('error', () => {}));
    const ac = new AbortController();
    const client = await p.offerer.openStream(ac.signal);
    client.on('error', () => {});
    const served = p.served[0] as TubeStream;
    const servedError = once(served, 'error');
    ac.abort();
    await closed(client);
    const [err] = (await servedError) as [TubesError];
    expect(err.closeReason).toBe(CloseConnectionReason.Client);
  });
});

describe('embedded connections: close', () => {
  it('destroy(err) sends its closeReason and text; the peer stream errors with both', async () => {
    const p = pair(() => {});
    const client = await p.offerer.openStream();
    client.on('error', () => {});
    client.destroy(
      Object.assign(new Error('admin said so'), { closeReason: CloseConnectionReason.AdminClosed }),
    );
    const [err] = (await once(p.served[0] as TubeStream, 'error')) as [TubesError];
    expect(err.code).toBe(ErrorCode.CLOSED);
    expect(err.closeReason).toBe(CloseConnectionReason.AdminClosed);
    expect(err.message).toBe('admin said so');
    expect(p.gatewaySink.connectionsClosed.get(CloseConnectionReason.AdminClosed)).toBe(1);
  });

  it('destroy() without an error closes with Normal: the peer reads what was sent, then end', async () => {
    const p = pair(() => {});
    const client = await p.offerer.openStream();
    client.write('last words');
    await settle();
    client.destroy();
    const served = p.served[0] as TubeStream;
    const got = collect(served);
    await got.ended;
    expect(got.data().toString()).toBe('last words');
    expect(served.closeReason).toBe(CloseConnectionReason.Normal);
  });

  it('half-close from the offering side: the handler reads end and can still answer', async () => {
    const p = pair((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    const client = await p.offerer.openStream();
    const got = collect(client);
    const clientClosed = closed(client);
    client.end(Buffer.alloc(100_000, 7));
    await got.ended;
    expect(got.data().toString()).toBe('got 100000 bytes');
    await clientClosed;
  });

  it('half-close from the handler: the offering side reads end and can still send', async () => {
    let received = '';
    const p = pair((s) => {
      s.end('bye first');
      s.on('data', (c: Buffer) => {
        received += c.toString();
      });
    });
    const client = await p.offerer.openStream();
    const got = collect(client);
    const clientClosed = closed(client);
    await got.ended;
    expect(got.data().toString()).toBe('bye first');
    client.end('still here');
    await clientClosed;
    await until(() => received === 'still here', 'handler got the late bytes');
  });

  it('the peer closing with a non-normal reason destroys the stream with a TubesError carrying it', async () => {
    const p = pair((s) => {
      s.on('error', () => {});
      setImmediate(() => s.destroy(Object.assign(new Error('target gone'), { closeReason: 2 })));
    });
    const client = await p.offerer.openStream();
    const [err] = (await once(client, 'error')) as [TubesError];
    expect(err.code).toBe(ErrorCode.CLOSED);
    expect(err.closeReason).toBe(CloseConnectionReason.Timeout);
    expect(err.message).toBe('target gone');
  });

  it('ConnectionOpened and a non-normal CloseConnection in one delivery: no unhandled error; the caller gets the destroyed stream with the reason', async () => {
    const p = pair((s) => {
      s.on('error', () => {});
      // After the handler returned (accepted): ConnectionOpened goes out first, then this close.
      setImmediate(() => s.destroy(Object.assign(new Error('target gone'), { closeReason: 2 })));
    });
    p.ports.b.hold(); // ConnectionOpened and CloseConnection queue up together
    const opening = p.offerer.openStream();
    await until(() => p.served.length === 1 && p.ports.b.queued >= 2, 'handler answered');
    // Both arrive in one synchronous delivery from a macrotask, as a data channel delivers: the destroy's
    // 'error' (process.nextTick) then runs before this continuation (a microtask) could listen.
    setImmediate(() => p.ports.b.release());
    const client = await opening;
    client.on('error', () => {});
    await until(() => client.destroyed, 'client stream destroyed');
    expect(client.closeReason).toBe(CloseConnectionReason.Timeout);
    expect((client.errored as TubesError | null)?.closeReason).toBe(CloseConnectionReason.Timeout);
  });

  it('the peer closes during a write that waits on backpressure: the write fails with the reason', async () => {
    let served: TubeStream | undefined;
    const p = pair(
      (s) => {
        served = s;
        s.on('error', () => {});
        s.pause(); // a host that does not read: FlowPause reaches the writer
      },
      { flowHighWater: 64 * 1024 },
    );
    const client = await p.offerer.openStream();
    client.on('error', () => {});
    const big = Buffer.alloc(64 * 1024, 1);
    let writes = 0;
    while (client.write(big) && writes < 200) writes++;
    await until(() => p.gatewaySink.flowPausesSent === 1, 'FlowPause sent');
    await settle();
    const failed = new Promise<Error | null | undefined>((resolve) => client.write(big, resolve));
    (served as TubeStream).destroy(Object.assign(new Error('stop'), { closeReason: 1 }));
    const err = (await failed) as TubesError;
    expect(err).toBeInstanceOf(TubesError);
    expect(err.closeReason).toBe(CloseConnectionReason.Error);
  });
});

describe('embedded connections: flow control', () => {
  it('write() returns false while the data channel is congested and drain follows', async () => {
    const p = pair(() => {}, { sendHighWater: 256 * 1024, sendLowWater: 64 * 1024 });
    const client = await p.offerer.openStream();
    p.ports.a.hold();
    const chunk = Buffer.alloc(64 * 1024, 2);
    let accepted = 0;
    while (client.write(chunk)) {
      accepted++;
      if (accepted > 100) throw new Error('write() never returned false');
    }
    // Nothing is sent past the high-water mark plus one held chunk.
    expect(p.ports.a.bufferedAmount).toBeLessThan(256 * 1024 + 3 * 65 * 1024);
    const drained = once(client, 'drain');
    p.ports.a.release();
    await drained;
  });

  it('a handler that stops reading pauses the sender (FlowPause) and reading again resumes it', async () => {
    const p = pair((s) => s.pause(), { flowHighWater: 256 * 1024, sendHighWater: 256 * 1024 });
    const client = await p.offerer.openStream();
    const chunk = Buffer.alloc(64 * 1024, 3);
    let sent = 0;
    const writeUntilFull = async (): Promise<void> => {
      for (let i = 0; i < 200; i++) {
        sent += chunk.length;
        if (!client.write(chunk)) {
          const drained = await Promise.race([
            once(client, 'drain').then(() => true),
            new Promise((r) => setTimeout(() => r(false), 200)),
          ]);
          if (!drained) return;
        }
      }
      throw new Error('the sender was never paused');
    };
    await writeUntilFull();
    expect(p.gatewaySink.flowPausesSent).toBe(1);
    expect(p.offererSink.flowPausesReceived).toBe(1);
    const served = p.served[0] as TubeStream;
    // Bounded: what the handler holds is the flow high-water mark plus what was in flight, not what the
    // sender wanted to send (up to 12.5 MiB here).
    expect(served.readableLength).toBeLessThan(1024 * 1024);
    expect(sent).toBeLessThan(2 * 1024 * 1024);
    const drained = once(client, 'drain');
    let read = 0;
    served.on('data', (c: Buffer) => {
      read += c.length;
    });
    served.resume();
    await drained;
    client.end();
    await once(served, 'end');
    expect(read).toBe(sent);
  });
});

describe('verbose', () => {
  it('a channel follows a change of its verbose flag at once', () => {
    const p = pair();
    expect(p.offerer.verbose).toBe(false);
    p.offerer.verbose = true;
    expect(p.offerer.verbose).toBe(true);
  });
});
