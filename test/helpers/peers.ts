/**
 * Helpers for tests that talk to real programs (curl, ncat, guacd, …) or need small local servers.
 * Everything listens on 127.0.0.1 with port 0 (the OS picks a free port).
 *
 * Whether a suite runs or skips is decided in one place, test/helpers/skip.ts (`requireTools` is re-exported
 * here for the suites that already import it from this module).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';

export { DEBIAN_PACKAGE, requireTools, which } from './skip.ts';

// ---------------------------------------------------------------------------------------------------
// Small servers

export interface LocalServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface HttpTestServer extends LocalServer {
  /** `http://127.0.0.1:<port><path>` */
  url(urlPath: string): string;
  /** The generated file, served at `/big.bin` (absent when `bigFileBytes` is 0). */
  readonly bigFile: { readonly path: string; readonly size: number; readonly sha256: string } | undefined;
  /** Number of requests served. */
  readonly requests: number;
  /** Number of TCP connections accepted (a refused SOCKS5 request must not even connect). */
  readonly connections: number;
}

/**
 * HTTP/1.1 server on 127.0.0.1:0. Serves `bodies` (path → body; default `/hello.txt` →
 * `hello through the tunnel\n`) and a random file of `bigFileBytes` bytes at `/big.bin`.
 */
export async function startHttpServer(
  options: { bodies?: Record<string, string | Uint8Array>; bigFileBytes?: number } = {},
): Promise<HttpTestServer> {
  const bodies = new Map<string, Buffer>();
  for (const [p, b] of Object.entries(options.bodies ?? { '/hello.txt': 'hello through the tunnel\n' })) {
    bodies.set(p, typeof b === 'string' ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  const size = options.bigFileBytes ?? 0;
  let bigFile: HttpTestServer['bigFile'];
  if (size > 0) {
    const data = randomBytes(size);
    bodies.set('/big.bin', data);
    bigFile = { path: '/big.bin', size, sha256: createHash('sha256').update(data).digest('hex') };
  }
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    const body = bodies.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  const port = await listen(server);
  const close = () => closeServer(server, true);
  return {
    host: '127.0.0.1',
    port,
    bigFile,
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    url: (p) => `http://127.0.0.1:${port}${p}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface TcpEchoServer extends LocalServer {
  /** Connections accepted so far. */
  readonly connections: number;
}

/** TCP echo on 127.0.0.1:0; a client's FIN is echoed as FIN once its bytes are written back. */
export async function startTcpEchoServer(): Promise<TcpEchoServer> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  const port = await listen(server);
  const close = async () => {
    for (const s of sockets) s.destroy();
    await closeServer(server, false);
  };
  return {
    host: '127.0.0.1',
    port,
    get connections() {
      return connections;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

export interface UdpEchoServer extends LocalServer {
  readonly datagrams: number;
}

/** UDP echo on 127.0.0.1:0 (or [::1]:0 with `family: 6`). */
export async function startUdpEchoServer(options: { family?: 4 | 6 } = {}): Promise<UdpEchoServer> {
  const six = options.family === 6;
  const host = six ? '::1' : '127.0.0.1';
  const socket = dgram.createSocket(six ? 'udp6' : 'udp4');
  let datagrams = 0;
  socket.on('message', (msg, rinfo) => {
    datagrams++;
    socket.send(msg, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  let closed = false;
  const close = () =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      socket.close(() => resolve());
    });
  return {
    host,
    port: socket.address().port,
    get datagrams() {
      return datagrams;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server | http.Server, isHttp: boolean): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    if (isHttp) (server as http.Server).closeAllConnections();
  });
}

// ---------------------------------------------------------------------------------------------------
// Processes

export interface CommandResult {
  /** Exit code, or null when killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export interface RunOptions {
  /** Kill the command (SIGKILL, by its pid) after this many ms; default 30 s. */
  readonly timeout?: number;
  /** Written to stdin, which is then closed (default: stdin closed at once). */
  readonly input?: string | Uint8Array;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Cap on captured stdout (default 256 MiB); stderr is capped at 1 MiB. */
  readonly maxStdout?: number;
}

/** Runs a program without a shell and collects its output. Never rejects for a non-zero exit. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<CommandResult> {
  const maxStdout = options.maxStdout ?? 256 * 1024 * 1024;
  const maxStderr = 1024 * 1024;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => {
      if (outLen < maxStdout) out.push(d.subarray(0, maxStdout - outLen));
      outLen += d.length;
    });
    child.stderr.on('data', (d: Buffer) => {
      if (errLen < maxStderr) err.push(d.subarray(0, maxStderr - errLen));
      errLen += d.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeout ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    child.stdin.on('error', () => {}); // the program may exit without reading its input
    child.stdin.end(options.input);
  });
}
