/**
 * Time-limited TURN credentials of the "TURN REST API" scheme (draft-uberti-behave-turn-rest; coturn's
 * `use-auth-secret` / `static-auth-secret`): username `<expiry unix seconds>:<user>`, password
 * base64(HMAC-SHA1(shared secret, username)). The server accepts them until the expiry without knowing users.
 */
import { createHmac } from 'node:crypto';
import { ErrorCode, TubesError } from '../errors.ts';
import { type IceServer, parseIceUrl } from './ice-servers.ts';

export interface TurnRestCredentialOptions {
  /** The secret shared with the TURN server (coturn `static-auth-secret`). */
  secret: string | Uint8Array;
  /** Who the credentials are for (appended after the expiry); omitted = username is the expiry alone. */
  user?: string;
  /** Validity in seconds (default 86,400 = one day). */
  ttlSeconds?: number;
  /** Clock in ms since the epoch (default `Date.now()`). */
  now?: number;
}

export interface TurnRestCredentials {
  /** `<expiry>:<user>` (or `<expiry>`): use as `turn_username` / `IceServer.username`. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)): use as `turn_password` / `IceServer.credential`. */
  credential: string;
  /** When the server stops accepting them. */
  expiresAt: Date;
}

/** Credentials for a TURN server configured with a shared secret (docs/API.md, "TURN"). */
export function turnRestCredentials(options: TurnRestCredentialOptions): TurnRestCredentials {
  const { secret, user } = options;
  if ((typeof secret !== 'string' && !(secret instanceof Uint8Array)) || secret.length === 0) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, 'turnRestCredentials: secret must be a non-empty string');
  }
  if (user !== undefined && (typeof user !== 'string' || user.includes(':'))) {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, 'turnRestCredentials: user must be a string without ":"');
  }
  const ttl = options.ttlSeconds ?? 86_400;
  if (!Number.isInteger(ttl) || ttl <= 0) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      'turnRestCredentials: ttlSeconds must be a positive integer',
    );
  }
  const expiry = Math.floor((options.now ?? Date.now()) / 1000) + ttl;
  const username = user === undefined || user === '' ? String(expiry) : `${expiry}:${user}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential, expiresAt: new Date(expiry * 1000) };
}

/**
 * The registry's `turnRest` option: TURN servers of `iceServers` listed without `username` and `credential`
 * get credentials minted from this secret at createTube and again before each ICE restart's gathering, so a
 * tube outlives any one set of them.
 */
export interface TurnRestOptions {
  /** The secret shared with the TURN server (coturn `static-auth-secret`). */
  secret: string;
  /** Appended to the username after the expiry (`<expiry>:<user>`); no ':'. */
  user?: string;
  /** Validity of each minted set in seconds (default 86,400). */
  ttlSeconds?: number;
}

/** Checks `turnRest` at once (TubesError BAD_ARGUMENT), by minting one set. */
export function checkTurnRest(options: TurnRestOptions | undefined): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, 'turnRest must be { secret, user?, ttlSeconds? }');
  }
  turnRestCredentials(options);
}

/**
 * `servers` with REST credentials minted for every TURN entry given without `username` and `credential`;
 * everything else as it is. Without `rest` the servers are returned unchanged.
 */
export function withTurnRestCredentials(
  servers: readonly IceServer[],
  rest: TurnRestOptions | undefined,
  now?: number,
): IceServer[] {
  if (rest === undefined) return [...servers];
  let minted: TurnRestCredentials | undefined;
  return servers.map((server) => {
    if (server.username !== undefined || server.credential !== undefined) return server;
    const urls = Array.isArray(server.urls) ? server.urls : [server.urls];
    const turn = urls.some((u) => typeof u === 'string' && parseIceUrl(u)?.kind === 'turn');
    if (!turn) return server;
    minted ??= turnRestCredentials({ ...rest, ...(now !== undefined ? { now } : {}) });
    return { ...server, username: minted.username, credential: minted.credential };
  });
}
