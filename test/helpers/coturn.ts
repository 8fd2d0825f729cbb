/**
 * A real coturn (`turnserver`, Debian package coturn) in a test network namespace, and the TCP workloads that
 * run next to the tubes in theirs (test/helpers/netns-workload.ts). Used by test/e2e/turn.test.ts and
 * bench/turn.ts.
 *
 *   const turn = await startCoturn(net, net.hosts[2], { users: { tunnel: 'pass' } });
 *   turn.url('udp')  // turn:10.231.N.3:3478      turn.url('tcp') … ?transport=tcp    turn.url('tls') turns:…:5349
 *
 * `startLoopbackCoturn(options)` runs one on 127.0.0.1 in this namespace instead (loopback peers allowed),
 * for tubes in the test process itself.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NetHost, Network } from './netns.ts';

export interface CoturnOptions {
  /** Long-term credentials (lt-cred-mech); exclusive with `authSecret`. */
  users?: Record<string, string>;
  /** TURN REST shared secret (use-auth-secret). */
  authSecret?: string;
  port?: number;
  /** Also listen for TLS on this port, with a fresh self-signed certificate for the host's address. */
  tlsPort?: number;
  /** Relay port range start (each instance needs its own range). */
  minPort?: number;
  /** Further turnserver arguments, e.g. `['--max-allocate-lifetime=4']` (Refreshes within seconds). */
  extraArgs?: string[];
}

export interface Coturn {
  readonly host: NetHost | { address: string };
  readonly port: number;
  /** PEM of the TLS certificate (when `tlsPort`), to trust as a CA. */
  readonly certPem: string | undefined;
  url(transport: 'udp' | 'tcp' | 'tls'): string;
  /** Everything coturn logged so far (every run, when restarted). */
  log(): string;
  /** Stops and starts it again on the same ports: every allocation is gone (a redeployed TURN server). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function startCoturn(net: Network, host: NetHost, options: CoturnOptions): Promise<Coturn> {
  return runCoturn(host, options, {
    spawn: (cmd, args) => net.spawn(host, cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }),
    exec: (cmd, args) => net.exec(host, cmd, args),
  });
}

/** coturn on 127.0.0.1 in this process's namespace, relaying to loopback peers (tubes in the test process). */
export function startLoopbackCoturn(options: CoturnOptions): Promise<Coturn> {
  return runCoturn(
    { address: '127.0.0.1' },
    { ...options, extraArgs: ['--allow-loopback-peers', ...(options.extraArgs ?? [])] },
    {
      spawn: (cmd, args) => spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }),
      exec: async (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8' }),
    },
  );
}

interface Runner {
  spawn(cmd: string, args: string[]): ChildProcess;
  exec(cmd: string, args: string[]): Promise<string>;
}

async function runCoturn(
  host: NetHost | { address: string },
  options: CoturnOptions,
  run: Runner,
): Promise<Coturn> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tubes-coturn-'));
  const port = options.port ?? 3478;
  const minPort = options.minPort ?? 49160;
  const subnet = host.address.split('.').slice(0, 3).join('.');
  const args = [
    '-n',
    `--listening-ip=${host.address}`,
    `--relay-ip=${host.address}`,
    `--listening-port=${port}`,
    '--realm=tubes.test',
    '--no-dtls',
    `--min-port=${minPort}`,
    `--max-port=${minPort + 80}`,
    '--log-file=stdout',
    '--simple-log',
    '--no-cli',
    `--pidfile=${path.join(dir, 'turnserver.pid')}`,
    `--userdb=${path.join(dir, 'turndb')}`,
    // coturn relays only to peers it is told are fine: the test subnet.
    `--allowed-peer-ip=${subnet}.0-${subnet}.255`,
    '--no-multicast-peers',
  ];
  if (options.authSecret !== undefined) {
    args.push('--use-auth-secret', `--static-auth-secret=${options.authSecret}`);
  } else {
    args.push('--lt-cred-mech');
    for (const [user, pass] of Object.entries(options.users ?? {})) args.push(`--user=${user}:${pass}`);
  }
  let certPem: string | undefined;
  if (options.tlsPort !== undefined) {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=tubes-turn-test',
        '-addext',
        `subjectAltName=IP:${host.address}`,
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    certPem = readFileSync(cert, 'utf8');
    args.push(`--tls-listening-port=${options.tlsPort}`, `--cert=${cert}`, `--pkey=${key}`);
  } else {
    args.push('--no-tls');
  }
  args.push(...(options.extraArgs ?? []));
  let log = '';
  // Ready when its listeners are bound (UDP, and TCP/TLS ones).
  const want = [`${host.address}:${port}`];
  if (options.tlsPort !== undefined) want.push(`${host.address}:${options.tlsPort}`);
  const start = async (): Promise<ChildProcess> => {
    const child: ChildProcess = run.spawn('turnserver', args);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (l) => {
      log += `${l}\n`;
    });
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`turnserver exited (${child.exitCode}):\n${log}`);
      const ss = await run.exec('ss', ['-lntu']);
      if (
        want.every((w) => ss.includes(w)) &&
        ss.split('\n').some((l) => l.startsWith('udp') && l.includes(want[0] as string))
      )
        return child;
      if (Date.now() > deadline) throw new Error(`turnserver not listening after 10 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const kill = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  let child = await start();
  return {
    host,
    port,
    certPem,
    url(transport) {
      if (transport === 'tls') return `turns:${host.address}:${options.tlsPort ?? 5349}`;
      return `turn:${host.address}:${port}${transport === 'tcp' ? '?transport=tcp' : ''}`;
    },
    log: () => log,
    async restart() {
      await kill(child);
      // The old listeners must be gone before waiting for the new ones.
      for (let i = 0; i < 50; i++) {
        const ss = await run.exec('ss', ['-lntu']);
        if (!ss.includes(want[0] as string)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      child = await start();
    },
    async stop() {
      await kill(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const WORKLOAD = fileURLToPath(new URL('./netns-workload.ts', import.meta.url));

/** Starts an echo server in `host`'s namespace; resolves with its port and a stop function. */
export async function netnsEcho(net: Network, host: NetHost): Promise<{ port: number; stop(): void }> {
  const child = net.spawn(host, process.execPath, [WORKLOAD, 'echo'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await firstLine(child);
  return { port: (JSON.parse(line) as { port: number }).port, stop: () => void child.kill('SIGKILL') };
}

export interface NetnsTransfer {
  sentSha256: string;
  receivedSha256: string;
  received: number;
  ms: number;
}

/** Sends `bytes` through `addr` (an echo path) from `host`'s namespace, sha256 both ways. */
export async function netnsTransfer(
  net: Network,
  host: NetHost,
  addr: string,
  bytes: number,
): Promise<NetnsTransfer> {
  const child = net.spawn(host, process.execPath, [WORKLOAD, 'transfer', addr, String(bytes)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  try {
    return JSON.parse(await firstLine(child)) as NetnsTransfer;
  } catch (e) {
    throw new Error(`transfer failed: ${(e as Error).message}\n${err}`);
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    child.once('close', (code) => reject(new Error(`exited with ${code} before printing a result`)));
  });
}
