/**
 * Embedded connections through real tubes, in-thread and in worker mode (`workers: 2` on both registries,
 * so the offering side's stream and the gateway's handler stream are each on the registry's thread while
 * their connections live in workers): the Duplex contract (backpressure, half-close both ways, destroy with
 * a reason, abort before / while / after open, refused open, the peer closing during a write) runs for both;
 * then, in worker mode, node:http over handler streams and openConnection streams (sha256 both ways) and a
 * stalled-then-slow consumer that keeps what every hop buffers bounded.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type TubeStream, TubesError } from '../../src/index.ts';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import { workerInfo, workerTestHookForTests } from '../../src/registry/worker-backend.ts';
import { type EmbedPair, embedPair, hashAll, sendBlocks, tubeAgent } from '../helpers/embed.ts';
import { waitFor } from '../helpers/tubes.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

type Handler = (stream: TubeStream) => void;

/** A tube pair whose gateway hands each connection to the handler the running test set. */
interface Rig {
  pair: EmbedPair;
  /** Streams the gateway's handler received, in order. */
  served: TubeStream[];
  handle: Handler;
}

async function rig(workers: number): Promise<Rig> {
  const r: Partial<Rig> & { served: TubeStream[] } = { served: [], handle: (s) => void s.pipe(s) };
  r.pair = await embedPair({
    clientRegistry: { workers },
    gatewayRegistry: { workers },
    conversationId: `embed-w${workers}`,
    onConnection: (stream) => {
      r.served.push(stream);
      (r.handle as Handler)(stream);
    },
  });
  return r as Rig;
}

/** Resolves on 'close' (unlike events.once, an 'error' before it does not reject). */
function closed(stream: Duplex): Promise<void> {
  return new Promise((resolve) => (stream.destroyed ? resolve() : stream.once('close', () => resolve())));
}

function collect(stream: Duplex): { data: () => Buffer; ended: Promise<unknown> } {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { data: () => Buffer.concat(chunks), ended: once(stream, 'end') };
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const MODES = [
  { mode: 'in-thread', workers: 0 },
  { mode: 'workers: 2', workers: 2 },
] as const;

/** One tube pair per mode, shared by the suites below (each test sets the handler it needs). */
const rigs = new Map<number, Promise<Rig>>();
function rigFor(workers: number): Promise<Rig> {
  let r = rigs.get(workers);
  if (!r) {
    r = rig(workers);
    rigs.set(workers, r);
  }
  return r;
}
afterAll(async () => {
  for (const r of rigs.values()) await (await r.catch(() => undefined))?.pair.close();
});

describe.each(MODES)('Duplex contract over real tubes ($mode)', ({ workers }) => {
  let r: Rig;
  beforeAll(async () => {
    r = await rigFor(workers);
    if (workers > 0) {
      // Both ends really are in workers: the streams below cross a thread boundary on each side.
      expect(workerInfo(r.pair.client).flatMap((w) => w.tubes)).toEqual([r.pair.clientTube]);
      expect(workerInfo(r.pair.gateway).flatMap((w) => w.tubes)).toEqual([r.pair.gatewayTube]);
    }
  }, 60_000);

  const open = (signal?: AbortSignal): Promise<TubeStream> =>
    r.pair.client.openConnection(r.pair.conversationId, signal ? { signal } : {});
  /** The gateway's stream of the connection opened last. */
  const lastServed = (): TubeStream => r.served.at(-1) as TubeStream;

  it('resolves on ConnectionOpened; 2 MiB echoed intact; end() both ways closes with Normal', async () => {
    r.handle = (s) => void s.pipe(s);
    const client = await open();
    expect(client.connNo).toBeGreaterThan(0);
    expect(client.channelId).toBe(r.pair.conversationId);
    const served = lastServed();
    expect(served.connNo).toBe(client.connNo);
    const data = randomBytes(2 * MiB + 7);
    const got = collect(client);
    client.end(data);
    await got.ended;
    expect(sha(got.data())).toBe(sha(data));
    await closed(client);
    await closed(served);
    expect(client.closeReason).toBe(CloseConnectionReason.Normal);
    expect(served.closeReason).toBe(CloseConnectionReason.Normal);
  });

  it('a handler that throws refuses: TUBES_ERR_CONNECTION_REFUSED with its reason and text', async () => {
    r.handle = () => {
      throw Object.assign(new Error('no capacity'), { closeReason: CloseConnectionReason.ServerRefuse });
    };
    const err = (await open().catch((e: unknown) => e)) as TubesError;
    expect(err).toBeInstanceOf(TubesError);
    expect(err.code).toBe(ErrorCode.CONNECTION_REFUSED);
    expect(err.closeReason).toBe(CloseConnectionReason.ServerRefuse);
    expect(err.message).toBe('no capacity');
  });

  it('a handler that destroys the stream (no reason given) refuses with HandlerError', async () => {
    r.handle = (s) => {
      s.on('error', () => {});
      s.destroy(new Error('not today'));
    };
    const err = (await open().catch((e: unknown) => e)) as TubesError;
    expect(err.code).toBe(ErrorCode.CONNECTION_REFUSED);
    expect(err.closeReason).toBe(CloseConnectionReason.HandlerError);
    expect(err.message).toBe('not today');
  });

  it('writes made inside the handler go out after ConnectionOpened', async () => {
    r.handle = (s) => void s.write('banner');
    const client = await open();
    const [chunk] = (await once(client, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('banner');
    client.destroy();
  });

  it('half-close from the offering side: the handler reads end and can still answer', async () => {
    r.handle = (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes`));
    };
    const client = await open();
    const got = collect(client);
    client.end(Buffer.alloc(300_000, 7));
    await got.ended;
    expect(got.data().toString()).toBe('got 300000 bytes');
    await closed(client);
    expect(client.closeReason).toBe(CloseConnectionReason.Normal);
  });

  it('half-close from the handler: the offering side reads end and can still send', async () => {
    let received = '';
    r.handle = (s) => {
      s.end('bye first');
      s.on('data', (c: Buffer) => {
        received += c.toString();
      });
    };
    const client = await open();
    const got = collect(client);
    await got.ended;
    expect(got.data().toString()).toBe('bye first');
    client.end('still here');
    await closed(client);
    await waitFor(() => received === 'still here', 5_000, 'handler got the late bytes');
  });

  it('destroy(err) sends its closeReason and text; the peer stream errors with both', async () => {
    r.handle = () => {};
    const client = await open();
    const served = lastServed();
    const servedError = once(served, 'error');
    client.on('error', () => {});
    client.destroy(
      Object.assign(new Error('admin said so'), { closeReason: CloseConnectionReason.AdminClosed }),
    );
    const [err] = (await servedError) as [TubesError];
    expect(err.code).toBe(ErrorCode.CLOSED);
    expect(err.closeReason).toBe(CloseConnectionReason.AdminClosed);
    expect(err.message).toBe('admin said so');
    expect(client.closeReason).toBe(CloseConnectionReason.AdminClosed);
  });

  it('destroy() without an error closes with Normal: the peer reads what was sent, then end', async () => {
    r.handle = (s) => s.pause();
    const client = await open();
    const served = lastServed();
    client.write('last words');
    await new Promise((res) => setTimeout(res, 50));
    client.destroy();
    const got = collect(served);
    served.resume();
    await got.ended;
    expect(got.data().toString()).toBe('last words');
    await closed(served);
    expect(served.closeReason).toBe(CloseConnectionReason.Normal);
  });

  it('the peer closing with a non-normal reason destroys the stream with a TubesError carrying it', async () => {
    r.handle = (s) => {
      s.on('error', () => {});
      setImmediate(() => s.destroy(Object.assign(new Error('target gone'), { closeReason: 2 })));
    };
    const client = await open();
    const [err] = (await once(client, 'error')) as [TubesError];
    expect(err.code).toBe(ErrorCode.CLOSED);
    expect(err.closeReason).toBe(CloseConnectionReason.Timeout);
    expect(err.message).toBe('target gone');
    expect(client.closeReason).toBe(CloseConnectionReason.Timeout);
  });

  it('abort before open: rejected with AbortError, the handler never sees it', async () => {
    r.handle = (s) => void s.pipe(s);
    const before = r.served.length;
    const ac = new AbortController();
    ac.abort();
    const err = (await open(ac.signal).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('AbortError');
    // A connection opened afterwards is the next one the handler sees.
    const next = await open();
    expect(r.served.length).toBe(before + 1);
    next.destroy();
  });

  it('abort while opening: rejected with AbortError; the gateway stream closes with Client', async () => {
    r.handle = (s) => void s.on('error', () => {});
    const before = r.served.length;
    const ac = new AbortController();
    const opening = open(ac.signal).catch((e: unknown) => e);
    ac.abort();
    const err = (await opening) as Error;
    expect(err.name).toBe('AbortError');
    await waitFor(() => r.served.length === before + 1, 5_000, 'handler called');
    const served = lastServed();
    await closed(served);
    expect(served.closeReason).toBe(CloseConnectionReason.Client);
  });

  it('abort after open destroys the stream; the gateway stream errors with reason Client', async () => {
    r.handle = (s) => void s.on('error', () => {});
    const ac = new AbortController();
    const client = await open(ac.signal);
    client.on('error', () => {});
    const served = lastServed();
    const servedError = once(served, 'error');
    ac.abort();
    await closed(client);
    expect(client.closeReason).toBe(CloseConnectionReason.Client);
    const [err] = (await servedError) as [TubesError];
    expect(err.closeReason).toBe(CloseConnectionReason.Client);
  });

  it('await using destroys the stream at the end of the block (Normal)', async () => {
    r.handle = (s) => void s.pipe(s);
    let kept: TubeStream | undefined;
    {
      await using stream = await open();
      kept = stream;
      stream.write('ping');
      const [chunk] = (await once(stream, 'data')) as [Buffer];
      expect(chunk.toString()).toBe('ping');
    }
    expect(kept?.destroyed).toBe(true);
    await closed(lastServed());
    expect(lastServed().closeReason).toBe(CloseConnectionReason.Normal);
  });

  /** FlowPause messages the gateway sent so far (pushed by its worker in worker mode: ≤ ~100 ms old). */
  const gatewayFlowPauses = (): number =>
    Number(r.pair.gateway.getLiveStats(r.pair.conversationId, r.pair.gatewayTube)?.['flow_pauses_sent'] ?? 0);

  /**
   * Writes `chunk` until the whole path is full: write() said stop, the gateway sent FlowPause and no 'drain'
   * came for 500 ms. Returns the bytes written and the pending 'drain'.
   */
  async function fill(
    client: TubeStream,
    chunk: Buffer,
    hash?: ReturnType<typeof createHash>,
  ): Promise<{ written: number; drain: Promise<unknown> }> {
    const pausesBefore = gatewayFlowPauses();
    let written = 0;
    for (;;) {
      do {
        hash?.update(chunk);
        written += chunk.length;
        if (written > 64 * MiB) throw new Error('the writer was never stopped');
      } while (client.write(chunk));
      let drained = false;
      const drain = once(client, 'drain').then(
        () => {
          drained = true;
        },
        () => {}, // the stream failed: the caller's test says how
      );
      const stoppedAt = Date.now();
      while (!drained && (gatewayFlowPauses() === pausesBefore || Date.now() - stoppedAt < 500))
        await new Promise((res) => setTimeout(res, 50));
      if (!drained) return { written, drain };
    }
  }

  it('backpressure: a handler that stops reading makes write() return false (bounded); reading again drains', async () => {
    r.handle = (s) => s.pause();
    const client = await open();
    const served = lastServed();
    const h = createHash('sha256');
    const { written, drain } = await fill(client, randomBytes(64 * KiB), h);
    // Bounded by the flow-control high-water marks and windows, not by what the writer wanted (64 MiB).
    expect(written).toBeLessThan(12 * MiB);
    expect(served.readableLength).toBeLessThan(3 * MiB);
    expect(client.writableLength).toBeLessThan(256 * KiB);
    const got = hashAll(served);
    await drain;
    client.end();
    const all = await got;
    expect(all.bytes).toBe(written);
    expect(all.sha).toBe(h.digest('hex'));
  });

  it('the peer closes during a write that waits on backpressure: the write fails with the reason', async () => {
    r.handle = (s) => {
      s.on('error', () => {});
      s.pause();
    };
    const client = await open();
    client.on('error', () => {});
    const served = lastServed();
    const big = Buffer.alloc(64 * KiB, 1);
    await fill(client, big);
    let done = false;
    const failed = new Promise<Error | null | undefined>((resolve) =>
      client.write(big, (err) => {
        done = true;
        resolve(err);
      }),
    );
    await new Promise((res) => setTimeout(res, 20));
    expect(done).toBe(false); // the write waits
    served.destroy(Object.assign(new Error('stop'), { closeReason: CloseConnectionReason.Error }));
    const err = (await failed) as TubesError;
    expect(err).toBeInstanceOf(TubesError);
    expect(err.closeReason).toBe(CloseConnectionReason.Error);
    await closed(client);
    expect(client.closeReason).toBe(CloseConnectionReason.Error);
  });
});

describe('worker mode: node:http over the bridge (no TCP between client and server)', () => {
  let r: Rig;
  let server: http.Server;
  beforeAll(async () => {
    r = await rigFor(2);
  }, 60_000);
  afterAll(() => {
    server?.close();
  });

  it('16 MiB each way: POST body and response body arrive with equal sha256', async () => {
    let responseSha = '';
    server = http.createServer(async (req, res) => {
      const got = await hashAll(req);
      res.writeHead(200, { 'x-request-sha256': got.sha, 'x-request-bytes': String(got.bytes) });
      responseSha = await sendBlocks(res, 16);
    });
    r.handle = (stream) => void server.emit('connection', stream);
    const req = http.request({ agent: tubeAgent(r.pair), method: 'POST', host: 'embedded', path: '/hash' });
    const response = once(req, 'response') as Promise<[http.IncomingMessage]>;
    const sentSha = await sendBlocks(req, 16);
    const [res] = await response;
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-bytes']).toBe(String(16 * MiB));
    expect(res.headers['x-request-sha256']).toBe(sentSha);
    const got = await hashAll(res);
    expect(got.bytes).toBe(16 * MiB);
    expect(got.sha).toBe(responseSha);
  });

  it('a stalled, then slow (1 MiB/s) consumer: what the server gets to write stays bounded; all arrives intact', async () => {
    const WANT = 16;
    const sent = { bytes: 0 };
    let responseSha: Promise<string> = Promise.resolve('');
    const served: TubeStream[] = [];
    server = http.createServer((_req, res) => {
      res.writeHead(200);
      responseSha = sendBlocks(res, WANT, sent);
    });
    r.handle = (stream) => {
      served.push(stream);
      server.emit('connection', stream);
    };
    const pausesBefore = Number(
      r.pair.client.getLiveStats(r.pair.conversationId, r.pair.clientTube)?.['flow_pauses_sent'] ?? 0,
    );
    const opened: TubeStream[] = [];
    const [res] = (await once(
      http.get({ agent: tubeAgent(r.pair, opened), host: 'embedded', path: '/big' }),
      'response',
    )) as [http.IncomingMessage];
    res.pause();
    const h = createHash('sha256');
    let received = 0;
    const take = (budget: number): void => {
      while (budget > 0) {
        const chunk = res.read(Math.min(budget, Math.max(1, res.readableLength))) as Buffer | null;
        if (!chunk) return;
        h.update(chunk);
        received += chunk.length;
        budget -= chunk.length;
      }
    };
    const client = opened[0] as TubeStream;
    const gateway = served[0] as TubeStream;
    let maxClientBuffered = 0;
    let maxGatewayHeld = 0;
    const measure = (): void => {
      maxClientBuffered = Math.max(maxClientBuffered, client.readableLength + res.readableLength);
      maxGatewayHeld = Math.max(maxGatewayHeld, gateway.writableLength);
    };
    // Stalled: every hop fills up to its window / high-water mark, then the server's writes wait.
    await waitFor(
      () => {
        measure();
        return (
          Number(
            r.pair.client.getLiveStats(r.pair.conversationId, r.pair.clientTube)?.['flow_pauses_sent'] ?? 0,
          ) > pausesBefore
        );
      },
      10_000,
      'FlowPause from the client worker',
    );
    const plateau = sent.bytes;
    await new Promise((res) => setTimeout(res, 500));
    measure();
    expect(sent.bytes).toBe(plateau); // nothing moves while nobody reads
    expect(sent.bytes).toBeLessThan(8 * MiB); // the server wanted to write 16 MiB
    // Slow: ~100 KiB every 100 ms for 2 s; the bounds hold while data trickles through.
    for (let i = 0; i < 20; i++) {
      await new Promise((res) => setTimeout(res, 100));
      take(MiB / 10);
      measure();
    }
    expect(received).toBeGreaterThan(MiB);
    expect(sent.bytes - received).toBeLessThan(8 * MiB);
    // Bounded by the bridge window and the stream high-water marks on this thread.
    expect(maxClientBuffered).toBeLessThan(1.5 * MiB);
    expect(maxGatewayHeld).toBeLessThan(1.5 * MiB);
    // Then at full speed: everything arrives, intact.
    res.on('data', (c: Buffer) => {
      h.update(c);
      received += c.length;
    });
    res.resume();
    await once(res, 'end');
    expect(received).toBe(WANT * MiB);
    expect(h.digest('hex')).toBe(await responseSha);
  });
});

describe('worker mode: a worker that dies', () => {
  it('destroys its streams with TUBES_ERR_CLOSED (close reason Error); its tube is gone', async () => {
    const served: TubeStream[] = [];
    const pair = await embedPair({
      clientRegistry: { workers: 1 },
      conversationId: 'embed-crash',
      onConnection: (stream) => {
        served.push(stream);
        stream.on('error', () => {});
        stream.pipe(stream);
      },
    });
    try {
      const client = await pair.client.openConnection(pair.conversationId);
      client.write('before');
      await once(client, 'data');
      const failed = once(client, 'error') as Promise<[TubesError]>;
      void workerTestHookForTests(pair.client, pair.clientTube, 'throw').catch(() => {});
      const [err] = await failed;
      expect(err.code).toBe(ErrorCode.CLOSED);
      expect(err.closeReason).toBe(CloseConnectionReason.Error);
      expect(err.message).toMatch(/Tube worker 0 exited/);
      expect(client.closeReason).toBe(CloseConnectionReason.Error);
      // The tube went with its worker (its peer notices by its own keepalive, much later).
      await expect(pair.client.openConnection(pair.conversationId)).rejects.toMatchObject({
        code: ErrorCode.CONVERSATION_NOT_FOUND,
      });
    } finally {
      await pair.close();
    }
  });
});
