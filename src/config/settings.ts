/**
 * Validation of the `settings` object hosts pass through from their signalling, with the original's keys
 * (docs/ORIGINAL.md, “Modes and settings”) and error texts, into one typed value per channel mode.
 *
 * Layer: below `channel/` (which builds each mode from what its variant carries) and above `protocol/`;
 * it imports nothing else of the package, so both `channel/` and `registry/` may depend on it.
 */
import { ErrorCode, TubesError } from '../errors.ts';
import { type ConnectAsSettings, parseConnectAsSettings } from '../protocol/connect-as.ts';
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

/** SOCKS5 username/password (RFC 1929); the same shape as the protocol layer's credentials. */
export interface SocksCredentials {
  readonly username: string;
  readonly password: string;
}

interface CommonSettings {
  conversationType: ConversationType;
  localListenAddr: string | undefined;
}

/** `tunnel` without SOCKS: every connection goes to one target. */
export interface PortForwardSettings extends CommonSettings {
  mode: 'port-forward';
  /** `target_host`/`target_port` (port number or numeric string), else the `guacd` block's address. */
  target: Target | undefined;
}

/** `tunnel` with `socks_mode` or allow-lists: the offerer speaks SOCKS5, the gateway checks destinations. */
export interface Socks5Settings extends CommonSettings {
  mode: 'socks5';
  /** `socks_username` / `socks_password`, when both are strings and the name is not empty. */
  credentials: SocksCredentials | undefined;
  /** `allowed_hosts` as given (a list of text; the gateway's network checker reads and validates it). */
  allowedHosts: unknown;
  /** `allowed_ports` as given (validated like `allowedHosts`). */
  allowedPorts: unknown;
}

/** Guacamole protocols: the gateway dials guacd and runs the handshake. */
export interface GuacdSettings extends CommonSettings {
  mode: 'guacd';
  /** `guacd.guacd_host`/`guacd_port` (host trimmed; port number or numeric string). */
  guacd: Target | undefined;
  /** `guacd_params` converted (normalised keys, string values, `protocol` set). */
  guacdParams: ReadonlyMap<string, string>;
  /** `connect_as_settings` (ConnectAs), validated; undefined when absent. */
  connectAs: ConnectAsSettings | undefined;
}

/** Modes this build recognises but does not serve (`modeFor` refuses them with BAD_SETTINGS). */
export interface UnsupportedModeSettings extends CommonSettings {
  mode: 'database-proxy' | 'python-handler';
}

export type ParsedSettings = PortForwardSettings | Socks5Settings | GuacdSettings | UnsupportedModeSettings;

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

/** Port forward is `tunnel` only, so the target port may be a numeric string. */
function targetOf(raw: Record<string, unknown>): Target | undefined {
  const host = typeof raw['target_host'] === 'string' ? raw['target_host'].trim() : '';
  const port = portOf(raw['target_port'], true);
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

function credentialsOf(raw: Record<string, unknown>): SocksCredentials | undefined {
  const user = raw['socks_username'];
  const pass = raw['socks_password'];
  if (typeof user === 'string' && typeof pass === 'string' && user !== '')
    return { username: user, password: pass };
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
  if (isDatabaseProxy(raw, conversationType)) {
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
  const common: CommonSettings = {
    conversationType,
    localListenAddr: typeof lla === 'string' && lla.trim() !== '' ? lla.trim() : undefined,
  };
  switch (mode) {
    case 'port-forward':
      return { ...common, mode, target: targetOf(raw) };
    case 'socks5':
      return {
        ...common,
        mode,
        credentials: credentialsOf(raw),
        allowedHosts: raw['allowed_hosts'],
        allowedPorts: raw['allowed_ports'],
      };
    case 'guacd': {
      const params = guacdParams(raw['guacd_params'], conversationType);
      if (!params) throw bad('guacd_params must be an object');
      return {
        ...common,
        mode,
        guacd: guacdAddressOf(raw),
        guacdParams: params,
        connectAs: parseConnectAsSettings(raw['connect_as_settings']),
      };
    }
    default:
      return { ...common, mode };
  }
}

/** Database conversation types: with a `host` key these are database-proxy conversations. */
const DATABASE_TYPES = new Set<string>(['mysql', 'sql-server', 'postgresql']);

/**
 * The original's database-proxy decision: `tunnelType: "database"` or a `proxy` key. Its third trigger, any
 * `host` key, turned even rdp/ssh sessions into database proxies; here `host` counts only for the database
 * conversation types (docs/COMPATIBILITY.md).
 */
function isDatabaseProxy(raw: Record<string, unknown>, conversationType: ConversationType): boolean {
  if (raw['tunnelType'] === 'database' || raw['proxy'] !== undefined) return true;
  return raw['host'] !== undefined && DATABASE_TYPES.has(conversationType);
}
