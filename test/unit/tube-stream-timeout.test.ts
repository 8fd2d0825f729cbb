/**
 * `TubeStream#setTimeout` with net.Socket's semantics, on two real Channels over the in-memory port pair:
 * `'timeout'` after `ms` without a chunk either way (reads and writes count), once per idle period, the stream
 * left open; 0 disables; one timer per stream, not one per chunk. Timers and `performance.now` are faked
 * (the ports deliver on setImmediate, which stays real).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Channel } from '../../src/channel/channel.ts';
import type { TubeStream } from '../../src/channel/tube-stream.ts';
import { ErrorCode } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import { settle } from '../helpers/channel-harness.ts';
import { memoryPortPair } from '../helpers/memory-port.ts';

const closers: (() => void)[] = [];
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const c of closers.splice(0)) c();
});

/** An opened connection: the offering side's stream and the gateway handler's. */
async function streams(): Promise<{ local: TubeStream; remote: TubeStream }> {
  const ports = memoryPortPair('conv-timeout', 65536);
  const served: TubeStream[] = [];
  const common = {
    logger: silentLogger(),
    verbose: false,
    limits: { keepaliveIntervalMs: 0 },
    onEnd: () => {},
    onPeerTimeout: () => {},
    onOpen: () => {},
    onTransportClose: () => {},
  };
  const offerer = new Channel({ ...common, port: ports.a, role: 'server' });
  const gateway = new Channel({
    ...common,
    port: ports.b,
    role: 'client',
    handler: (stream) => void served.push(stream),
  });
  closers.push(() => {
    offerer.close(CloseConnectionReason.Normal);
    gateway.close(CloseConnectionReason.Normal);
    ports.a.close();
  });
  ports.open();
  const local = await offerer.openStream();
  await settle();
  const remote = served[0] as TubeStream;
  remote.resume(); // a reader, so delivered chunks flow
  return { local, remote };
}

function fakeTime(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
}

describe('TubeStream setTimeout', () => {
  it("'timeout' after ms of idleness, once, without destroying the stream; the callback is a once-listener", async () => {
    const { local } = await streams();
    fakeTime();
    const fired: number[] = [];
    const cb = vi.fn();
    expect(local.setTimeout(1_000, cb)).toBe(local);
    expect(local.timeout).toBe(1_000);
    local.on('timeout', () => fired.push(performance.now()));
    vi.advanceTimersByTime(999);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired.length).toBe(1);
    expect(cb).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000); // no activity: no second timeout
    expect(fired.length).toBe(1);
    expect(local.destroyed).toBe(false);
    expect(local.writable).toBe(true);
  });

  it('writes and reads both postpone it; activity after a timeout arms it again', async () => {
    const { local, remote } = await streams();
    fakeTime();
    const t0 = performance.now();
    const at = (log: number[]) => () => log.push(performance.now() - t0);
    const localAt: number[] = [];
    const remoteAt: number[] = [];
    local.on('timeout', at(localAt));
    remote.on('timeout', at(remoteAt));
    local.setTimeout(1_000);
    remote.setTimeout(1_000);
    vi.advanceTimersByTime(600);
    local.write('a'); // the local side writes at 600
    await settle(); // and the remote reads it at 600 (setImmediate delivery; fake time does not move)
    vi.advanceTimersByTime(999);
    expect(localAt).toEqual([]);
    expect(remoteAt).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(localAt).toEqual([1_600]);
    expect(remoteAt).toEqual([1_600]);

    vi.advanceTimersByTime(1_400);
    remote.write('b'); // 3,000: the remote writes, the local side reads
    await settle();
    vi.advanceTimersByTime(999);
    expect(localAt).toEqual([1_600]);
    vi.advanceTimersByTime(1);
    expect(localAt).toEqual([1_600, 4_000]);
    expect(remoteAt).toEqual([1_600, 4_000]);
  });

  it('0 disables it and removes the callback; one timer per stream however many chunks', async () => {
    const { local } = await streams();
    fakeTime();
    const cb = vi.fn();
    local.setTimeout(500, cb);
    local.setTimeout(0, cb);
    expect(local.timeout).toBeUndefined();
    expect(local.listenerCount('timeout')).toBe(0);
    vi.advanceTimersByTime(5_000);
    expect(cb).not.toHaveBeenCalled();

    const timers = vi.spyOn(globalThis, 'setTimeout');
    local.setTimeout(1_000);
    for (let i = 0; i < 500; i++) {
      local.write('x');
      vi.advanceTimersByTime(5);
    }
    await settle();
    // one to arm, one re-arm when the first fired early (2.5 s of activity): not one per chunk
    expect(timers.mock.calls.filter(([, ms]) => (ms as number) > 0).length).toBeLessThanOrEqual(4);
  });

  it('destroy clears the timer; bad input is TUBES_ERR_BAD_ARGUMENT', async () => {
    const { local } = await streams();
    fakeTime();
    local.setTimeout(1_000);
    expect(vi.getTimerCount()).toBe(1);
    local.destroy();
    expect(vi.getTimerCount()).toBe(0);
    expect(() => local.setTimeout(-1)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }));
    expect(() => local.setTimeout(Number.NaN)).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }),
    );
  });
});
