/**
 * Validation of the `settings` object hosts pass through from their signalling, with the original's keys
 * (original-behaviour §3.1–3.2) and error texts.
 */
import { ErrorCode, TubesError } from '../errors.ts';
import { guacdParams } from '../protocol/guacamole.ts';

export const CONVERSATION_TYPES = [
  'tunnel',
  'ssh',
  'rdp',
  'vnc',
  'http',
  'kubernetes',
  'telnet',
  'mysql',
  'sql-server',
  'postgresql',
  'python_handler',
] as const;

export type ConversationType = (typeof CONVERSATION_TYPES)[number];
export type ChannelModeName = 'port-forward' | 'socks5' | 'guacd' | 'database-proxy' | 'python-handler';

const GUACD_TYPES = new Set<string>([
  'rdp',
  'vnc',
  'ssh',
  'telnet',
  'http',
  'kubernetes',
  'mysql',
  'sql-server',
  'postgresql',
]);

export interface Target {
  host: string;
  port: number;
}

export interface ParsedSettings {
  conversationType: ConversationType;
  mode: ChannelModeName;
  localListenAddr: string | undefined;
  target: Target | undefined;
  /** guacd mode: `guacd.guacd_host`/`guacd_port` (host trimmed; port number or numeric string). */
  guacd?: Target | undefined;
  /** guacd mode: `guacd_params` converted (normalised keys, string values, `protocol` set). */
  guacdParams?: ReadonlyMap<string, string> | undefined;
  raw: Readonly<Record<string, unknown>>;
}

function bad(message: string): TubesError {
  return new TubesError(ErrorCode.BAD_SETTINGS, message);
}

function portOf(value: unknown, allowString: boolean): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= 65535) return value;
  if (allowString && typeof value === 'string' && /^\d{1,5}$/.test(value.trim())) {
    const n = Number(value.trim());
    if (n > 0 && n <= 65535) return n;
  }
  return undefined;
}

function targetOf(raw: Record<string, unknown>, isTunnel: boolean): Target | undefined {
  const host = typeof raw['target_host'] === 'string' ? raw['target_host'].trim() : '';
  const port = portOf(raw['target_port'], isTunnel);
  if (host && port) return { host, port };
  return guacdAddressOf(raw);
}

function guacdAddressOf(raw: Record<string, unknown>): Target | undefined {
  const guacd = raw['guacd'];
  if (guacd && typeof guacd === 'object') {
    const g = guacd as Record<string, unknown>;
    const gh = typeof g['guacd_host'] === 'string' ? g['guacd_host'].trim() : '';
    const gp = portOf(g['guacd_port'], true);
    if (gh && gp) return { host: gh, port: gp };
  }
  return undefined;
}

export function parseSettings(settings: unknown): ParsedSettings {
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
    throw bad('Settings parameter must be a dictionary.');
  }
  const raw = settings as Record<string, unknown>;
  const type = raw['conversationType'];
  if (type === undefined || type === null)
    throw bad('No specific protocol defined (conversationType missing)');
  if (typeof type !== 'string') throw bad('conversationType is not a string');
  const normalized = type === 'postgres' ? 'postgresql' : type;
  if (!(CONVERSATION_TYPES as readonly string[]).includes(normalized)) {
    throw bad(`Invalid conversationType string: ${type}`);
  }
  const conversationType = normalized as ConversationType;
  let mode: ChannelModeName;
  if (raw['tunnelType'] === 'database' || raw['proxy'] !== undefined || raw['host'] !== undefined) {
    mode = 'database-proxy';
  } else if (GUACD_TYPES.has(conversationType)) {
    mode = 'guacd';
  } else if (conversationType === 'tunnel') {
    const hosts = typeof raw['allowed_hosts'] === 'string' ? raw['allowed_hosts'].trim() : '';
    const ports = typeof raw['allowed_ports'] === 'string' ? raw['allowed_ports'].trim() : '';
    mode = raw['socks_mode'] === true || hosts !== '' || ports !== '' ? 'socks5' : 'port-forward';
  } else {
    mode = 'python-handler';
  }
  const lla = raw['local_listen_addr'];
  if (lla !== undefined && lla !== null && typeof lla !== 'string')
    throw bad('local_listen_addr must be a string');
  return {
    conversationType,
    mode,
    localListenAddr: typeof lla === 'string' && lla.trim() !== '' ? lla.trim() : undefined,
    target: targetOf(raw, conversationType === 'tunnel'),
    ...(mode === 'guacd' ? guacdSettings(raw, conversationType) : {}),
    raw,
  };
}

function guacdSettings(
  raw: Record<string, unknown>,
  conversationType: ConversationType,
): Pick<ParsedSettings, 'guacd' | 'guacdParams'> {
  const params = guacdParams(raw['guacd_params'], conversationType);
  if (!params) throw bad('guacd_params must be an object');
  return { guacd: guacdAddressOf(raw), guacdParams: params };
}
