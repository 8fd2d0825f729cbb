/**
 * Scaffolding of the suites that run against the REAL guacd 1.3.0 (scripts/peers): guacd and its backends
 * started on free ports for one describe block, a recording TCP tap in front of guacd, and per-test cleanups.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { runCommand } from './peers.ts';

const PEERS = path.resolve(import.meta.dirname, '../../scripts/peers');

/** The scripts/peers services these suites use, and the port each one listens on. */
const SERVICES = {
  guacd: { env: 'PEERS_GUACD_PORT', port: 'guacd_port' },
  xvnc: { env: 'PEERS_VNC_PORT', port: 'vnc_port' },
  telnetd: { env: 'PEERS_TELNET_PORT', port: 'telnet_port' },
} as const;
export type PeerService = keyof typeof SERVICES;

export interface Peers {
  /** The port a started service listens on (127.0.0.1). */
  port(service: PeerService): number;
  stop(): Promise<void>;
}

/** Starts the services with scripts/peers/peers-up.sh, each on a free port (Xvnc on a free X display). */
export async function startPeers(services: readonly PeerService[]): Promise<Peers> {
  const state = mkdtempSync(path.join(os.tmpdir(), 'tubes-guacd-peers-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const s of services) env[SERVICES[s].env] = '0';
  delete env['PEERS_VNC_DISPLAY']; // peers-up.sh picks a free X display
  const stop = async (): Promise<void> => {
    await runCommand('bash', [path.join(PEERS, 'peers-down.sh'), state], { timeout: 15_000 });
    rmSync(state, { recursive: true, force: true });
  };
  const up = await runCommand('bash', [path.join(PEERS, 'peers-up.sh'), state, ...services], {
    env,
    timeout: 30_000,
  });
  if (up.code !== 0) {
    await stop();
    throw new Error(`peers-up.sh failed (${up.code}): ${up.stderr}`);
  }
  const ports = JSON.parse(readFileSync(path.join(state, 'ports.json'), 'utf8')) as Record<string, number>;
  return {
    port: (service) => {
      const port = services.includes(service) ? ports[SERVICES[service].port] : undefined;
      if (port === undefined) throw new Error(`peers: ${service} was not started`);
      return port;
    },
    stop,
  };
}

/** startPeers before the enclosing describe block's tests, stopped after them. */
export function usePeers(services: readonly PeerService[]): Pick<Peers, 'port'> {
  let peers: Peers | undefined;
  beforeAll(async () => {
    peers = await startPeers(services);
  });
  afterAll(async () => {
    await peers?.stop();
  });
  return {
    port: (service) => {
      if (!peers) throw new Error('peers: not started (usePeers runs in beforeAll)');
      return peers.port(service);
    },
  };
}

export type Closer = () => Promise<void> | void;

/** Registers what each test of the enclosing block opened; run after it, last first. */
export function useCleanups(): (fn: Closer) => void {
  const cleanups: Closer[] = [];
  afterEach(async () => {
    while (cleanups.length) await (cleanups.pop() as Closer)();
  });
  return (fn) => void cleanups.push(fn);
}

/** Both directions of one connection through the tap. */
export interface TapSession {
  toGuacd: Buffer[];
  fromGuacd: Buffer[];
  /** When the connection closed (Date.now()), undefined while open. */
  closedAt: number | undefined;
}

export interface GuacdTap {
  port: number;
  /** One a connection, in order of arrival. */
  sessions: TapSession[];
  close(): Promise<void>;
}

/** TCP relay in front of guacd that records both directions of every connection. */
export async function guacdTap(targetPort: number): Promise<GuacdTap> {
  const sessions: TapSession[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const s: TapSession = { toGuacd: [], fromGuacd: [], closedAt: undefined };
    sessions.push(s);
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('error', () => {});
      sock.on('close', () => {
        sockets.delete(sock);
        s.closedAt ??= Date.now();
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (d: Buffer) => {
      s.toGuacd.push(d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      s.fromGuacd.push(d);
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sessions,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
