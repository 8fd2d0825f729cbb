/**
 * `tubes demo`: two tubes (in this process, or the gateway tube in a child process), a local echo target,
 * a real transfer through the tunnel with sha256 on both ends, and an echo RTT probe.
 */
import { TubeRegistry } from '../registry/registry.ts';
import { connectTubes, LOOPBACK, RemoteRegistry } from './remote.ts';
import { echoTransfer, type Progress, rttProbe, startEchoServer, summarize } from './workload.ts';

export interface DemoOptions {
  bytes: number;
  twoProcess: boolean;
  rttCount: number;
  rttSize: number;
  timeoutMs: number;
}

export type DemoPhase = 'connecting' | 'transfer' | 'rtt' | 'done';

export interface DemoProgress extends Progress {
  phase: DemoPhase;
  /** performance.now() when the transfer started. */
  transferStartedAt: number;
  rttDone: number;
  lastRttMs: number | undefined;
}

export interface DemoResult {
  ok: boolean;
  error?: string;
  mode: 'in-process' | 'two-process';
  node: string;
  bytes: number;
  createToReadyMs?: number;
  transfer?: {
    sentBytes: number;
    receivedBytes: number;
    ms: number;
    /** Payload MB/s (10^6 bytes) echoed: each byte crossed the tunnel once each way. */
    mbPerSec: number;
    sentSha256: string;
    receivedSha256: string;
    hashMatch: boolean;
  };
  rtt?: { count: number; size: number; p50Ms: number; p99Ms: number; minMs: number; maxMs: number };
}

export function newProgress(): DemoProgress {
  return {
    phase: 'connecting',
    sent: 0,
    received: 0,
    transferStartedAt: 0,
    rttDone: 0,
    lastRttMs: undefined,
  };
}

export async function runDemo(
  opts: DemoOptions,
  progress: DemoProgress = newProgress(),
): Promise<DemoResult> {
  const result: DemoResult = {
    ok: false,
    mode: opts.twoProcess ? 'two-process' : 'in-process',
    node: process.version,
    bytes: opts.bytes,
  };
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const echo = await startEchoServer();
  const server = new TubeRegistry(LOOPBACK);
  const client = opts.twoProcess ? new RemoteRegistry(LOOPBACK) : new TubeRegistry(LOOPBACK);
  try {
    // The child's start-up is not part of create→ready.
    if (client instanceof RemoteRegistry) await client.ready();
    const pair = await connectTubes({
      server,
      client,
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
      timeoutMs: Math.min(opts.timeoutMs, 30_000),
    });
    result.createToReadyMs = pair.createToReadyMs;
    const addr = pair.listenAddr;
    if (addr === undefined) throw new Error('The server tube has no local listener');

    progress.phase = 'transfer';
    progress.transferStartedAt = performance.now();
    const t = await echoTransfer(addr, opts.bytes, progress, signal);
    const hashMatch = t.sentSha256 === t.receivedSha256 && t.received === opts.bytes;
    result.transfer = {
      sentBytes: progress.sent,
      receivedBytes: t.received,
      ms: t.ms,
      mbPerSec: opts.bytes / 1e6 / (t.ms / 1000),
      sentSha256: t.sentSha256,
      receivedSha256: t.receivedSha256,
      hashMatch,
    };
    if (!hashMatch) {
      result.error =
        t.received !== opts.bytes
          ? `Transfer incomplete: sent ${opts.bytes} bytes, received ${t.received}`
          : `sha256 mismatch: sent ${t.sentSha256}, received ${t.receivedSha256}`;
      return result;
    }

    progress.phase = 'rtt';
    const samples = await rttProbe(addr, opts.rttCount, opts.rttSize, 20, signal, (ms) => {
      progress.rttDone++;
      progress.lastRttMs = ms;
    });
    const s = summarize(samples);
    result.rtt = { count: s.n, size: opts.rttSize, p50Ms: s.p50, p99Ms: s.p99, minMs: s.min, maxMs: s.max };
    result.ok = true;
    return result;
  } catch (err) {
    result.error = (err as Error).message;
    return result;
  } finally {
    progress.phase = 'done';
    await server.cleanupAll();
    if (client instanceof RemoteRegistry) await client.stop();
    else await client.cleanupAll();
    await echo.close();
  }
}
