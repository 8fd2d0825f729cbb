/**
 * Time-limited TURN credentials of the "TURN REST API" scheme (draft-uberti-behave-turn-rest; coturn's
 * `use-auth-secret` / `static-auth-secret`): username `<expiry unix seconds>:<user>`, password
 * base64(HMAC-SHA1(shared secret, username)). The server accepts them until the expiry without knowing users.
 */
import { createHmac } from 'node:crypto';
import { ErrorCode, TubesError } from '../errors.ts';

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
