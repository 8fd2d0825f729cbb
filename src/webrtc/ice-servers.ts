/**
 * Which STUN and TURN servers a tube uses: the registry's (or createTube's) `iceServers` plus the tube's
 * `turn_url` / `turn_username` / `turn_password`, shaped by `use_turn` and `turn_only` (docs/API.md, "ICE
 * servers"). Every URL is parsed here, so a malformed one is a TubesError at createTube instead of a server
 * werift silently skips. Nothing else is ever contacted: no implicit public STUN server.
 */
import { isIP } from 'node:net';
import { ErrorCode, TubesError } from '../errors.ts';

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/**
 * Where a tube's ICE servers come from: a list, or a function called at createTube and again before each
 * ICE restart's gathering (fresh time-limited TURN credentials; docs/API.md "ICE servers and TURN").
 */
export type IceServersProvider = () => IceServer[] | Promise<IceServer[]>;
export type IceServersSource = IceServer[] | IceServersProvider;

/**
 * The servers of `source` now: the list itself, or what the provider returns within `timeoutMs`.
 * A provider that throws, rejects, times out or returns something that is not a list → TubesError
 * BAD_ARGUMENT (its own error as `cause`).
 */
export async function resolveIceServers(source: IceServersSource, timeoutMs: number): Promise<IceServer[]> {
  if (typeof source !== 'function') return source;
  let timer: NodeJS.Timeout | undefined;
  let servers: unknown;
  try {
    servers = await Promise.race([
      Promise.resolve().then(source),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      `iceServers provider failed: ${(err as Error)?.message ?? String(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    clearTimeout(timer);
  }
  if (!Array.isArray(servers)) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, 'iceServers provider must return an array of ICE servers');
  }
  return servers as IceServer[];
}

export type TurnTransport = 'udp' | 'tcp' | 'tls';

export interface StunServerSpec {
  url: string;
  host: string;
  port: number;
}

export interface TurnServerSpec {
  /** The URL as configured (used to name the server in `turn_error` signals). */
  url: string;
  host: string;
  port: number;
  /** `turn:` = udp unless `?transport=tcp`; `turns:` = tls. */
  transport: TurnTransport;
  username: string;
  credential: string;
}

export interface IceServerPlan {
  stun: StunServerSpec[];
  turn: TurnServerSpec[];
  /** Relay candidates only (`turn_only`). */
  relayOnly: boolean;
}

type ParsedUrl =
  | { kind: 'stun'; host: string; port: number }
  | { kind: 'turn'; host: string; port: number; transport: TurnTransport };

/** Parses a `stun:` / `stuns:` / `turn:` / `turns:` URL (RFC 7064 / RFC 7065); undefined when malformed. */
export function parseIceUrl(url: string): ParsedUrl | undefined {
  const m = /^(stuns?|turns?):(?:\/\/)?(\[[0-9a-fA-F:.]+\]|[^[\]:?/\s]+)(?::(\d{1,5}))?(?:\?(.*))?$/i.exec(
    url.trim(),
  );
  if (!m) return undefined;
  const scheme = (m[1] as string).toLowerCase();
  const rawHost = m[2] as string;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (rawHost.startsWith('[') && isIP(host) !== 6) return undefined;
  const secure = scheme.endsWith('s');
  const port = m[3] !== undefined ? Number(m[3]) : secure ? 5349 : 3478;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const query = new URLSearchParams(m[4] ?? '');
  if (scheme.startsWith('stun')) {
    // stuns: would be STUN over TLS, which werift does not speak; refusing beats silently sending plain UDP.
    if (secure || m[4] !== undefined) return undefined;
    return { kind: 'stun', host, port };
  }
  const param = query.get('transport');
  let transport: TurnTransport;
  if (secure) {
    if (param !== null && param !== 'tcp') return undefined;
    transport = 'tls';
  } else if (param === null || param === 'udp') transport = 'udp';
  else if (param === 'tcp') transport = 'tcp';
  else return undefined;
  return { kind: 'turn', host, port, transport };
}

function bad(message: string, fromSettings: boolean): TubesError {
  return new TubesError(fromSettings ? ErrorCode.BAD_SETTINGS : ErrorCode.BAD_ARGUMENT, message);
}

function optionalString(settings: Record<string, unknown>, key: string): string | undefined {
  const v = settings[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw bad(`${key} must be a string`, true);
  return v;
}

function optionalBool(settings: Record<string, unknown>, key: string): boolean | undefined {
  const v = settings[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(`${key} must be a boolean`, true);
  return v;
}

/**
 * The servers of one tube. `base` = createTube's `iceServers` or else the registry's; `settings` = the tube's
 * settings (`turn_url`, `turn_username`, `turn_password`, `turn_only`, `use_turn`); `turnOnly` = createTube's
 * option of that name. Rules:
 * - `turn_url` needs `turn_username` and `turn_password` (all three, or none);
 * - `use_turn: false` drops every TURN server (settings and `iceServers`);
 * - `turn_only` (setting or option) = relay candidates only, and no STUN server is contacted; it needs at
 *   least one TURN server, otherwise the tube could never connect (BAD_SETTINGS at once).
 */
export function iceServerPlan(
  base: readonly IceServer[],
  settings: Record<string, unknown>,
  turnOnly?: boolean,
): IceServerPlan {
  const stun: StunServerSpec[] = [];
  const turn: TurnServerSpec[] = [];
  const add = (server: IceServer, fromSettings: boolean): void => {
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    for (const url of urls) {
      if (typeof url !== 'string') throw bad('ICE server URLs must be strings', fromSettings);
      const p = parseIceUrl(url);
      if (!p) {
        throw bad(
          `Invalid ICE server URL: ${url} (expected stun:host[:port], turn:host[:port][?transport=udp|tcp] or turns:host[:port])`,
          fromSettings,
        );
      }
      if (p.kind === 'stun') {
        stun.push({ url, host: p.host, port: p.port });
        continue;
      }
      if (typeof server.username !== 'string' || typeof server.credential !== 'string') {
        throw bad(`TURN server ${url} needs a username and a credential`, fromSettings);
      }
      turn.push({ url, ...p, username: server.username, credential: server.credential });
    }
  };
  for (const server of base) add(server, false);
  const turnUrl = optionalString(settings, 'turn_url');
  const turnUser = optionalString(settings, 'turn_username');
  const turnPass = optionalString(settings, 'turn_password');
  if (turnUrl !== undefined || turnUser !== undefined || turnPass !== undefined) {
    if (turnUrl === undefined || turnUser === undefined || turnPass === undefined) {
      throw bad('turn_url, turn_username and turn_password must be given together', true);
    }
    add({ urls: turnUrl, username: turnUser, credential: turnPass }, true);
  }
  const relayOnly = turnOnly === true || optionalBool(settings, 'turn_only') === true;
  const useTurn = optionalBool(settings, 'use_turn') ?? true;
  const turns = useTurn ? dedupe(turn) : [];
  if (relayOnly && turns.length === 0) {
    throw bad(
      useTurn
        ? 'turn_only needs a TURN server (turn_url + turn_username + turn_password, or a turn: entry in iceServers)'
        : 'turn_only with use_turn false leaves no way to connect',
      true,
    );
  }
  return { stun: relayOnly ? [] : stun, turn: turns, relayOnly };
}

function dedupe(list: TurnServerSpec[]): TurnServerSpec[] {
  const seen = new Set<string>();
  return list.filter((s) => {
    const key = `${s.transport}|${s.host}|${s.port}|${s.username}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
