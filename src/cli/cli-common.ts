/**
 * Pieces the `tubes gateway` and `tubes connect` commands share: argument helpers, ICE options from flags,
 * the logger (pino, JSON lines on stderr) and the live status line (redrawn on a TTY).
 */
import pino from 'pino';
import type { Logger } from '../log.ts';
import type { TubeRegistry, TubeRegistryOptions } from '../registry/registry.ts';
import { formatBytes } from './workload.ts';

export class UsageError extends Error {}

/** `host:port` or `[v6]:port` → parts; port 0 allowed only when `allowZero`. */
export function parseHostPort(text: string, what: string, allowZero = false): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535 || (port === 0 && !allowZero)) {
    throw new UsageError(`${what} must be host:port (or [ipv6]:port), got ${JSON.stringify(text)}`);
  }
  return { host: m[1] as string, port };
}

export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--${name} must be a positive integer, got ${value}`);
  return n;
}

/** `--ice-host` (repeatable: only these local addresses become candidates) and `--ice-server URL`. */
export const ICE_OPTIONS = {
  'ice-host': { type: 'string', multiple: true },
  'ice-server': { type: 'string', multiple: true },
  'ice-username': { type: 'string' },
  'ice-credential': { type: 'string' },
} as const;

export const ICE_HELP = `  --ice-host <addr>          Only this local address becomes an ICE candidate (repeatable), e.g. 127.0.0.1
  --ice-server <url>         A STUN/TURN server (repeatable): stun:host:port, turn:host:port?transport=tcp
  --ice-username <user>      TURN username for every turn: server
  --ice-credential <pass>    TURN password for every turn: server
`;

export function registryOptions(
  values: {
    'ice-host'?: string[] | undefined;
    'ice-server'?: string[] | undefined;
    'ice-username'?: string | undefined;
    'ice-credential'?: string | undefined;
  },
  logger: Logger,
): TubeRegistryOptions {
  const hosts = values['ice-host'] ?? [];
  const servers = (values['ice-server'] ?? []).map((urls) =>
    /^turns?:/.test(urls)
      ? {
          urls,
          ...(values['ice-username'] !== undefined ? { username: values['ice-username'] } : {}),
          ...(values['ice-credential'] !== undefined ? { credential: values['ice-credential'] } : {}),
        }
      : { urls },
  );
  return {
    logger,
    ...(hosts.length > 0
      ? { hostAddresses: hosts, hostAddressesOnly: true, ipv6: hosts.some((h) => h.includes(':')) }
      : {}),
    ...(servers.length > 0 ? { iceServers: servers } : {}),
  };
}

/** JSON log lines on stderr (stdout stays for the command's own output: addresses, tokens). */
export function cliLogger(level: string): Logger {
  return pino(
    { level, base: { pid: process.pid } },
    pino.destination({ fd: 2, sync: true }),
  ) as unknown as Logger;
}

export interface Traffic {
  connections: number;
  sent: number;
  received: number;
  rttMs: number | undefined;
}

/** Sums the live counters of these conversations. */
export function traffic(registry: TubeRegistry, conversations: readonly string[]): Traffic {
  const t: Traffic = { connections: 0, sent: 0, received: 0, rttMs: undefined };
  for (const id of conversations) {
    const s = registry.getLiveStats(id);
    if (!s) continue;
    t.connections += Number(s['active_connections'] ?? 0);
    t.sent += Number(s['total_bytes_sent'] ?? 0);
    t.received += Number(s['total_bytes_received'] ?? 0);
    const rtt = s['avg_rtt_ms'];
    if (typeof rtt === 'number') t.rttMs = t.rttMs === undefined ? rtt : Math.max(t.rttMs, rtt);
  }
  return t;
}

export function formatTraffic(t: Traffic): string {
  const rtt = t.rttMs === undefined ? '–' : `${t.rttMs.toFixed(1)} ms`;
  return `conns ${t.connections}  ↑ ${formatBytes(t.sent)}  ↓ ${formatBytes(t.received)}  rtt ${rtt}`;
}

/**
 * On a TTY (stderr), a status line redrawn every 500 ms; otherwise a `status` log record every 10 s.
 * Returns the stop function (clears the line).
 */
export function startStatus(
  render: () => { line: string; fields: Record<string, unknown> },
  logger: Logger,
): () => void {
  const tty = process.stderr.isTTY === true;
  const timer = setInterval(
    () => {
      const { line, fields } = render();
      if (tty) process.stderr.write(`\r${line}\x1b[K`);
      else logger.info(fields, 'status');
    },
    tty ? 500 : 10_000,
  );
  timer.unref();
  return () => {
    clearInterval(timer);
    if (tty) process.stderr.write('\r\x1b[K');
  };
}

/** Resolves on the first SIGINT/SIGTERM (a second one exits at once). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.once(sig, () => process.exit(130));
      resolve(sig);
    };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}
