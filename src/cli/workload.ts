/**
 * TCP workloads for the demo and the tunnel benchmark, all on 127.0.0.1: an echo target, a counting sink,
 * an echoed bulk transfer with sha256 on both ends, parallel one-way sends and a small-message RTT probe.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { ErrorCode, TubesError } from '../errors.ts';

export interface TcpServer {
  port: number;
  close(): Promise<void>;
}

function serve(onSocket: (socket: net.Socket) => void): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Echoes every byte back; half-closes after the client does. */
export function startEchoServer(): Promise<TcpServer> {
  return serve((socket) => socket.pipe(socket));
}

export interface Sink extends TcpServer {
  /** Bytes received over all connections so far. */
  readonly received: number;
  /** Resolves when `total` bytes have arrived in all (counted from the sink's start). */
  reached(total: number, signal?: AbortSignal): Promise<void>;
}

/** Reads and counts everything; ends each connection after the client half-closes. */
export async function startSink(): Promise<Sink> {
  let received = 0;
  let goal: { total: number; done(): void } | undefined;
  const server = await serve((socket) => {
    socket.on('data', (d: Buffer) => {
      received += d.length;
      if (goal && received >= goal.total) {
        const g = goal;
        goal = undefined;
        g.done();
      }
    });
    socket.on('end', () => socket.end());
  });
  return {
    ...server,
    get received() {
      return received;
    },
    reached(total, signal) {
      if (received >= total) return Promise.resolve();
      return abortable(
        new Promise<void>((done) => (goal = { total, done })),
        signal,
        `sink: ${received} of ${total} bytes`,
      );
    },
  };
}

const socketErrors = new WeakMap<net.Socket, Error>();

function closedError(socket: net.Socket, what: string): TubesError {
  const err = socketErrors.get(socket);
  return new TubesError(ErrorCode.CLOSED, `Connection closed ${what}${err ? `: ${err.message}` : ''}`);
}

/** A connected socket (half-open allowed, no Nagle); later errors show up as 'close' (see closedError). */
export function connectTcp(addr: string, signal?: AbortSignal): Promise<net.Socket> {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(addr.slice(i + 1));
  const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
  socket.on('error', (err) => socketErrors.set(socket, err));
  return abortable(
    new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('close', () => reject(closedError(socket, `before it opened (${addr})`)));
    }),
    signal,
    `connect ${addr}`,
    () => socket.destroy(),
  );
}

function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined, what: string, onAbort?: () => void) {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      onAbort?.();
      reject(new TubesError(ErrorCode.TIMEOUT, `Timed out (${what})`));
    };
    // handlers first: when already aborted, onAbort (e.g. destroying the socket) rejects `p` at once,
    // and that rejection must not go unhandled (it ended the process)
    p.then(
      (v) => {
        signal.removeEventListener('abort', abort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', abort);
        reject(err);
      },
    );
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
  });
}

const CHUNK = 64 * 1024;
const POOL = randomBytes(1024 * 1024 + CHUNK);

/** Chunk `index` of a deterministic-per-process stream: pool bytes at a moving offset plus its index, so no two chunks are alike. */
function chunkAt(index: number, size: number): Buffer {
  const at = (index * 7919 * 8) % (POOL.length - CHUNK);
  const chunk = Buffer.allocUnsafe(size);
  POOL.copy(chunk, 0, at, at + size);
  if (size >= 8) chunk.writeDoubleLE(index, 0);
  return chunk;
}

export interface Progress {
  sent: number;
  received: number;
}

/**
 * Writes `bytes` to `socket` in 64 KiB chunks with backpressure, then half-closes; hashes what it sent.
 * `firstChunk` picks where in the deterministic stream to start (different streams for different callers).
 */
export async function writeAll(
  socket: net.Socket,
  bytes: number,
  progress: Progress,
  hash: ReturnType<typeof createHash> | undefined,
  firstChunk = 0,
): Promise<void> {
  let index = firstChunk;
  for (let off = 0; off < bytes; off += CHUNK) {
    if (socket.destroyed) throw closedError(socket, 'while sending');
    const chunk = chunkAt(index++, Math.min(CHUNK, bytes - off));
    hash?.update(chunk);
    progress.sent += chunk.length;
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve) => {
        const go = (): void => {
          socket.off('drain', go);
          socket.off('close', go);
          resolve();
        };
        socket.on('drain', go);
        socket.on('close', go);
      });
    }
  }
  socket.end();
}

export interface EchoTransferResult {
  sentSha256: string;
  receivedSha256: string;
  received: number;
  ms: number;
}

/**
 * Sends `bytes` through `addr` (an echo path) while reading everything back until the far side ends;
 * sha256 of both. `progress` is updated live.
 */
export async function echoTransfer(
  addr: string,
  bytes: number,
  progress: Progress = { sent: 0, received: 0 },
  signal?: AbortSignal,
): Promise<EchoTransferResult> {
  const socket = await connectTcp(addr, signal);
  const sent = createHash('sha256');
  const got = createHash('sha256');
  const t0 = performance.now();
  const back = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      got.update(d);
      progress.received += d.length;
    });
    socket.once('end', () => resolve());
    socket.once('close', () =>
      progress.received < bytes ? reject(closedError(socket, 'before the echo was complete')) : resolve(),
    );
  });
  try {
    await abortable(
      Promise.all([writeAll(socket, bytes, progress, sent), back]),
      signal,
      `echo transfer: ${progress.received} of ${bytes} bytes back`,
    );
  } finally {
    socket.destroy();
  }
  return {
    sentSha256: sent.digest('hex'),
    receivedSha256: got.digest('hex'),
    received: progress.received,
    ms: performance.now() - t0,
  };
}

/**
 * Opens `connections` sockets to `addr` and sends `bytes` in all (split evenly) one way, then half-closes.
 * Resolves when everything is written; the receiver decides when it all arrived.
 */
export async function sendParallel(
  addr: string,
  bytes: number,
  connections: number,
  signal?: AbortSignal,
): Promise<net.Socket[]> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => connectTcp(addr, signal)));
  const progress: Progress = { sent: 0, received: 0 };
  const share = Math.floor(bytes / connections);
  await Promise.all(
    sockets.map((s, i) =>
      writeAll(s, i === connections - 1 ? bytes - share * i : share, progress, undefined),
    ),
  );
  return sockets;
}

/** `count` sequential round trips of `size` bytes through an echo path at `addr` (after `warmup` more); ms each. */
export async function rttProbe(
  addr: string,
  count: number,
  size = 32,
  warmup = 20,
  signal?: AbortSignal,
  onSample?: (ms: number) => void,
): Promise<number[]> {
  const socket = await connectTcp(addr, signal);
  const payload = Buffer.alloc(size, 0x61);
  let pending = 0;
  let wake: (() => void) | undefined;
  let fail: ((err: Error) => void) | undefined;
  socket.on('data', (d: Buffer) => {
    pending -= d.length;
    if (pending <= 0 && wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  });
  socket.on('close', () => fail?.(closedError(socket, 'during the RTT probe')));
  const samples: number[] = [];
  try {
    for (let i = 0; i < warmup + count; i++) {
      const t0 = performance.now();
      pending += size;
      await abortable(
        new Promise<void>((resolve, reject) => {
          wake = resolve;
          fail = reject;
          socket.write(payload);
        }),
        signal,
        `RTT probe, round trip ${i + 1}`,
      );
      if (i >= warmup) {
        const ms = performance.now() - t0;
        samples.push(ms);
        onSample?.(ms);
      }
    }
  } finally {
    socket.destroy();
  }
  return samples;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles. */
export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const rank = (p: number): number =>
    s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return {
    n: s.length,
    p50: rank(0.5),
    p99: rank(0.99),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / (s.length || 1),
  };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "4096", "16M", "1G", "64MiB", "512k" → bytes (K/M/G are binary: KiB/MiB/GiB). */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  const n = m ? Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? Number.NaN) : Number.NaN;
  if (!Number.isFinite(n) || n < 1 || !Number.isSafeInteger(Math.floor(n))) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      `Invalid byte count: ${text} (use e.g. 4096, 512K, 16M, 1G)`,
    );
  }
  return Math.floor(n);
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
