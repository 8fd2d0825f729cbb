/** Two real werift tubes in this process, joined over loopback, for end-to-end tests. */
import { createHash } from 'node:crypto';
import net from 'node:net';
import { connectTubes, LOOPBACK as LOOPBACK_OPTIONS } from '../../src/cli/remote.ts';
import { writeAll } from '../../src/cli/workload.ts';
import { type Signal, TubeRegistry, type TubeRegistryOptions } from '../../src/index.ts';

export const LOOPBACK: TubeRegistryOptions = LOOPBACK_OPTIONS;

export interface TubePair {
  server: TubeRegistry;
  client: TubeRegistry;
  serverTube: string;
  clientTube: string;
  listenAddr: string | undefined;
  serverSignals: Signal[];
  clientSignals: Signal[];
  close(): Promise<void>;
}

export interface PairOptions {
  serverSettings?: Record<string, unknown>;
  clientSettings: Record<string, unknown>;
  conversationId?: string;
  trickleIce?: boolean;
  registry?: TubeRegistryOptions;
  serverRegistry?: TubeRegistryOptions;
  clientRegistry?: TubeRegistryOptions;
}

export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Two registries in this process joined by connectTubes (src/cli/remote.ts). */
export async function tubePair(opts: PairOptions): Promise<TubePair> {
  const server = new TubeRegistry({ ...LOOPBACK, ...opts.registry, ...opts.serverRegistry });
  const client = new TubeRegistry({ ...LOOPBACK, ...opts.registry, ...opts.clientRegistry });
  const close = async (): Promise<void> => {
    await Promise.all([server.cleanupAll(), client.cleanupAll()]);
  };
  try {
    const p = await connectTubes({
      server,
      client,
      serverSettings: opts.serverSettings,
      clientSettings: opts.clientSettings,
      conversationId: opts.conversationId,
      trickleIce: opts.trickleIce,
    });
    return {
      server,
      client,
      serverTube: p.serverTube,
      clientTube: p.clientTube,
      listenAddr: p.listenAddr,
      serverSignals: p.serverSignals,
      clientSignals: p.clientSignals,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** A TCP echo server on 127.0.0.1:0 that tracks its sockets so tests can close everything. */
export async function echoServer(): Promise<{
  port: number;
  close(): Promise<void>;
  sockets: Set<net.Socket>;
}> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(addr.slice(i + 1)) };
}

export function connect(addr: string): Promise<net.Socket> {
  const { host, port } = splitHostPort(addr);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * Sends `bytes` of deterministic pseudo-random data through `socket` (then half-closes) while reading
 * everything that comes back; resolves with the sha256 of both.
 */
export async function pumpAndCollect(
  socket: net.Socket,
  bytes: number,
  seed = 1,
): Promise<{ sentHash: string; receivedHash: string; received: number }> {
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      got.update(d);
      received += d.length;
    });
    socket.on('end', () => resolve());
    socket.on('error', reject);
  });
  done.catch(() => {}); // observed below; an error while still writing must not count as unhandled
  // The writer of the demo and benches (src/cli/workload.ts); `seed` picks a different stream per caller.
  await writeAll(socket, bytes, { sent: 0, received: 0 }, sent, seed * 4099).catch((err: Error) => {
    if (!socket.destroyed) throw err; // a socket closed under us ends the pump; `done` tells the caller
  });
  await done;
  return { sentHash: sent.digest('hex'), receivedHash: got.digest('hex'), received };
}
