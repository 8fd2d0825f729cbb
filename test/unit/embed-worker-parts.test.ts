/**
 * The parts of worker-mode embedding that need no worker: a handler that decides later (DeferredAccept, what
 * the worker's channel gets while the host's handler runs on the registry's thread), FlowResume after a reader
 * took a large buffer in one read(), errors with their close reason across the wire, and the transfer copy.
 * Two real Channels over the in-memory port pair, as test/unit/embed-channel.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeferredAccept, type TubeStream } from '../../src/channel/tube-stream.ts';
import type { ChannelLimits } from '../../src/channel/types.ts';
import { ErrorCode, TubesError } from '../../src/errors.ts';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import { fromWireError, toWireError } from '../../src/registry/wire.ts';
import { transferable } from '../../src/registry/worker-bridge.ts';
import { settle, until } from '../helpers/channel-harness.ts';
import { type ChannelPair, channelPair, closeChannelPairs } from '../helpers/channel-pair.ts';

afterEach(closeChannelPairs);

function pair(handler: (stream: TubeStream) => unknown, limits?: Partial<ChannelLimits>): ChannelPair {
  return channelPair('conv-deferred', handler, limits);
}

function deferred(): { accept: DeferredAccept; resolve(): void; reject(err: Error): void } {
  let resolve = (): void => {};
  let reject = (_err: Error): void => {};
  const decided = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { accept: new DeferredAccept(decided), resolve, reject };
}

describe('DeferredAccept: a handler that decides later', () => {
  it('ConnectionOpened waits for the decision; writes made meanwhile follow it', async () => {
    const d = deferred();
    const p = pair((s) => {
      s.write('hello');
      return d.accept;
    });
    let opened = false;
    const opening = p.offerer.openStream().then((s) => {
      opened = true;
      return s;
    });
    await until(() => p.served.length === 1, 'handler called');
    await settle();
    expect(opened).toBe(false);
    expect(p.gatewaySink.connectionsOpened).toBe(0);
    d.resolve();
    const client = await opening;
    const [chunk] = (await new Promise((r) => client.once('data', (c) => r([c])))) as [Buffer];
    expect(chunk.toString()).toBe('hello');
    expect(p.gatewaySink.connectionsOpened).toBe(1);
  });

  it('a rejected decision refuses with the error’s closeReason and text', async () => {
    const d = deferred();
    const p = pair(() => d.accept);
    const opening = p.offerer.openStream().catch((e: unknown) => e);
    await until(() => p.served.length === 1, 'handler called');
    d.reject(Object.assign(new Error('busy elsewhere'), { closeReason: CloseConnectionReason.ServerRefuse }));
    const err = (await opening) as TubesError;
    expect(err.code).toBe(ErrorCode.CONNECTION_REFUSED);
    expect(err.closeReason).toBe(CloseConnectionReason.ServerRefuse);
    expect(err.message).toBe('busy elsewhere');
    expect((p.served[0] as TubeStream).destroyed).toBe(true);
  });

  it('a stream destroyed before the decision refuses with its reason; the later accept changes nothing', async () => {
    const d = deferred();
    const p = pair((s) => {
      s.on('error', () => {});
      return d.accept;
    });
    const opening = p.offerer.openStream().catch((e: unknown) => e);
    await until(() => p.served.length === 1, 'handler called');
    (p.served[0] as TubeStream).destroy(
      Object.assign(new Error('gone'), { closeReason: CloseConnectionReason.Timeout }),
    );
    d.resolve();
    const err = (await opening) as TubesError;
    expect(err.code).toBe(ErrorCode.CONNECTION_REFUSED);
    expect(err.closeReason).toBe(CloseConnectionReason.Timeout);
    await settle();
    expect(p.gatewaySink.connectionsOpened).toBe(0);
  });
});

describe('flow control of an embedded stream', () => {
  it('a reader that takes a buffer above the flow high-water mark in one read() resumes the peer', async () => {
    const p = pair((s) => void s.pause(), { flowHighWater: 256 * 1024 });
    const client = await p.offerer.openStream();
    const served = p.served[0] as TubeStream;
    const chunk = Buffer.alloc(64 * 1024, 5);
    for (let i = 0; i < 8; i++) client.write(chunk);
    await until(() => p.offererSink.flowPausesReceived === 1, 'FlowPause received');
    await until(() => served.readableLength === 8 * chunk.length, 'everything sent arrived');
    // Paused by the peer: this write waits, and nothing more arrives at the reader.
    expect(client.write(chunk)).toBe(false);
    await settle();
    expect(client.writableNeedDrain).toBe(true);
    // One read() takes it all: Readable calls _read before it removes the chunk it returns, and never again
    // while no data comes, so that call must resume the peer.
    const all = served.read() as Buffer;
    expect(all.length).toBe(8 * chunk.length);
    await until(() => !client.writableNeedDrain, 'writer released by FlowResume');
  });
});

describe('the wire between threads', () => {
  it('a TubesError keeps its code, message and closeReason', () => {
    const err = new TubesError(ErrorCode.CONNECTION_REFUSED, 'no', { closeReason: 22 });
    const back = fromWireError(structuredClone(toWireError(err))) as TubesError;
    expect(back).toBeInstanceOf(TubesError);
    expect(back.code).toBe(ErrorCode.CONNECTION_REFUSED);
    expect(back.message).toBe('no');
    expect(back.closeReason).toBe(22);
    const plain = fromWireError(toWireError(new TubesError(ErrorCode.CLOSED, 'x'))) as TubesError;
    expect(plain.closeReason).toBeUndefined();
  });

  it('transferable(): the chunk’s bytes in an ArrayBuffer of their own, so transferring it detaches nothing else', () => {
    const big = Buffer.alloc(1000, 9);
    big.write('abc', 100);
    const view = big.subarray(100, 110);
    const ab = transferable(view);
    expect(ab.byteLength).toBe(10);
    expect(Buffer.from(ab).toString('latin1', 0, 3)).toBe('abc');
    structuredClone(ab, { transfer: [ab] });
    expect(ab.byteLength).toBe(0); // moved
    expect(big.byteLength).toBe(1000); // the writer's buffer is untouched
    expect(big.toString('latin1', 100, 103)).toBe('abc');
  });
});
