/**
 * ConnectAs (docs/ORIGINAL.md, "ConnectAs"): a client supplies the login identity (and optionally the
 * address) of a guacd session, encrypted to the gateway's P-256 key, in the tail of OpenConnection:
 *
 *   payload_len u32 BE | client_pubkey[65] (uncompressed SEC1 P-256) | nonce[12] | ciphertext[payload_len]
 *
 * Key agreement ECDH P-256 (gateway private key from `connect_as_settings.gateway_private_key`, PKCS#8 PEM)
 * → HKDF-SHA256 (empty salt, info CONNECT_AS_HKDF_INFO, 32 bytes) → AES-256-GCM (12-byte nonce, no AAD,
 * the 16-byte tag at the end of the ciphertext). The plaintext is JSON:
 * `{"user":{"username","password","private_key","private_key_passphrase","passphrase","domain",
 * "connect_database","distinguished_name"},"host","port"}`.
 *
 * Pure functions over node:crypto; no sockets (src/channel/guacd.ts applies the result).
 */
import {
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { ErrorCode, TubesError } from '../errors.ts';

export const CONNECT_AS_HKDF_INFO = 'KEEPER_CONNECT_AS_ECIES_SECP256R1_HKDF_SHA256';
export const CONNECT_AS_PUBKEY_BYTES = 65;
export const CONNECT_AS_NONCE_BYTES = 12;
export const CONNECT_AS_TAG_BYTES = 16;
/** Bytes in front of the ciphertext: payload_len, public key, nonce. */
export const CONNECT_AS_HEADER_BYTES = 4 + CONNECT_AS_PUBKEY_BYTES + CONNECT_AS_NONCE_BYTES;
/** A ConnectAs payload is a few credentials; anything this large is refused before decrypting. */
export const CONNECT_AS_MAX_CIPHERTEXT = 1024 * 1024;

/** Prefix of the CloseConnection(10) text when a tail cannot be used (the original's wording). */
export const CONNECT_AS_FAILED_PREFIX = 'ConnectAs decryption/parsing failed: ';
/** Prefix of the settings error for a malformed `connect_as_settings` (the original's wording). */
export const CONNECT_AS_SETTINGS_PREFIX = 'Failed to deserialize connect_as_settings: ';

/** `connect_as_settings`, validated. */
export interface ConnectAsSettings {
  readonly allowSupplyUser: boolean;
  readonly allowSupplyHost: boolean;
  /** The gateway's P-256 private key; undefined when not configured. */
  readonly privateKey: KeyObject | undefined;
}

/** The decrypted payload, fields the original reads; absent fields are undefined. */
export interface ConnectAsPayload {
  readonly user: Readonly<Record<(typeof USER_FIELDS)[number], string | undefined>>;
  readonly host: string | undefined;
  readonly port: number | undefined;
}

const USER_FIELDS = [
  'username',
  'password',
  'private_key',
  'private_key_passphrase',
  'passphrase',
  'domain',
  'connect_database',
  'distinguished_name',
] as const;

/** The guacd parameter (normalised name) each user field becomes; both passphrases feed `passphrase`. */
const USER_FIELD_PARAM: Readonly<Record<(typeof USER_FIELDS)[number], string>> = {
  username: 'username',
  password: 'password',
  private_key: 'privatekey',
  private_key_passphrase: 'passphrase',
  passphrase: 'passphrase',
  domain: 'domain',
  connect_database: 'connectdatabase',
  distinguished_name: 'distinguishedname',
};

/** serde's name for a JSON value in its "invalid type" messages. */
function serdeUnexpected(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `boolean \`${value}\``;
  if (typeof value === 'number')
    return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``;
  if (Array.isArray(value)) return 'sequence';
  return 'map';
}

function badSettings(detail: string): TubesError {
  return new TubesError(ErrorCode.BAD_SETTINGS, CONNECT_AS_SETTINGS_PREFIX + detail);
}

/**
 * Validates `settings.connect_as_settings` as the original deserialises it: an object with optional booleans
 * `allow_supply_user` / `allow_supply_host` (default false) and an optional string `gateway_private_key`.
 * The key must be a P-256 PKCS#8 PEM (checked here, so a bad key fails at creation, not per connection).
 * Returns undefined when the key is absent or null.
 */
export function parseConnectAsSettings(raw: unknown): ConnectAsSettings | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw badSettings(`invalid type: ${serdeUnexpected(raw)}, expected struct ConnectAsSettings`);
  }
  const o = raw as Record<string, unknown>;
  const flag = (key: string): boolean => {
    const v = o[key];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw badSettings(`invalid type: ${serdeUnexpected(v)}, expected a boolean`);
    return v;
  };
  const allowSupplyUser = flag('allow_supply_user');
  const allowSupplyHost = flag('allow_supply_host');
  const pem = o['gateway_private_key'];
  let privateKey: KeyObject | undefined;
  if (pem !== undefined && pem !== null) {
    if (typeof pem !== 'string')
      throw badSettings(`invalid type: ${serdeUnexpected(pem)}, expected a string`);
    try {
      privateKey = createPrivateKey({ key: pem, format: 'pem' });
    } catch (err) {
      throw badSettings(`gateway_private_key is not a PKCS#8 PEM private key: ${(err as Error).message}`);
    }
    const details = privateKey.asymmetricKeyDetails;
    if (privateKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
      throw badSettings('gateway_private_key is not a P-256 (secp256r1) key');
    }
  }
  return { allowSupplyUser, allowSupplyHost, privateKey };
}

/** ConnectAs is used only when a supply flag is set and the gateway key is configured (as the original). */
export function connectAsActive(s: ConnectAsSettings | undefined): s is ConnectAsSettings & {
  privateKey: KeyObject;
} {
  return s !== undefined && s.privateKey !== undefined && (s.allowSupplyUser || s.allowSupplyHost);
}

function failed(detail: string): Error {
  return new Error(CONNECT_AS_FAILED_PREFIX + detail);
}

function publicKeyOf(point: Uint8Array): KeyObject {
  if (point[0] !== 0x04) throw failed('client public key is not an uncompressed SEC1 point');
  const b64 = (from: number): string => Buffer.from(point.subarray(from, from + 32)).toString('base64url');
  try {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64(1), y: b64(33) }, format: 'jwk' });
  } catch (err) {
    throw failed(`invalid client public key: ${(err as Error).message}`);
  }
}

/** The AES-256 key both sides derive: HKDF-SHA256(ECDH(gateway, client), salt empty, info). */
export function connectAsKey(privateKey: KeyObject, clientPublicKey: Uint8Array): Buffer {
  const secret = diffieHellman({ privateKey, publicKey: publicKeyOf(clientPublicKey) });
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), CONNECT_AS_HKDF_INFO, 32));
}

function optString(o: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string')
    throw failed(`${where}${key}: invalid type: ${serdeUnexpected(v)}, expected a string`);
  return v;
}

function parsePayload(json: string): ConnectAsPayload {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw failed(`payload is not JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw failed(`invalid type: ${serdeUnexpected(value)}, expected a ConnectAs payload object`);
  }
  const o = value as Record<string, unknown>;
  const rawUser = o['user'];
  let userObj: Record<string, unknown> = {};
  if (rawUser !== undefined && rawUser !== null) {
    if (typeof rawUser !== 'object' || Array.isArray(rawUser)) {
      throw failed(`user: invalid type: ${serdeUnexpected(rawUser)}, expected an object`);
    }
    userObj = rawUser as Record<string, unknown>;
  }
  const user = {} as Record<(typeof USER_FIELDS)[number], string | undefined>;
  for (const f of USER_FIELDS) user[f] = optString(userObj, f, 'user.');
  const host = optString(o, 'host', '');
  const rawPort = o['port'];
  let port: number | undefined;
  if (rawPort !== undefined && rawPort !== null) {
    const n = typeof rawPort === 'string' && /^\d{1,5}$/.test(rawPort.trim()) ? Number(rawPort) : rawPort;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
      throw failed(`port: invalid value: ${serdeUnexpected(rawPort)}, expected a port number`);
    }
    port = n;
  }
  return { user, host: host?.trim() || undefined, port };
}

/**
 * Reads and decrypts an OpenConnection tail. An empty tail means "no ConnectAs" (undefined). A tail that is
 * present but truncated, does not decrypt, or does not parse throws an Error whose message is the
 * original's CloseConnection text (`ConnectAs decryption/parsing failed: …`).
 */
export function decryptConnectAs(tail: Uint8Array, privateKey: KeyObject): ConnectAsPayload | undefined {
  if (tail.length === 0) return undefined;
  if (tail.length < CONNECT_AS_HEADER_BYTES) {
    throw failed(`truncated payload: ${tail.length} bytes, the header alone is ${CONNECT_AS_HEADER_BYTES}`);
  }
  const b = Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength);
  const len = b.readUInt32BE(0);
  if (len > CONNECT_AS_MAX_CIPHERTEXT)
    throw failed(`payload length ${len} exceeds ${CONNECT_AS_MAX_CIPHERTEXT}`);
  if (b.length < CONNECT_AS_HEADER_BYTES + len) {
    throw failed(
      `truncated payload: ${b.length - CONNECT_AS_HEADER_BYTES} ciphertext bytes, payload_len says ${len}`,
    );
  }
  if (len < CONNECT_AS_TAG_BYTES) throw failed(`ciphertext of ${len} bytes is shorter than the GCM tag`);
  const pub = b.subarray(4, 4 + CONNECT_AS_PUBKEY_BYTES);
  const nonce = b.subarray(4 + CONNECT_AS_PUBKEY_BYTES, CONNECT_AS_HEADER_BYTES);
  const sealed = b.subarray(CONNECT_AS_HEADER_BYTES, CONNECT_AS_HEADER_BYTES + len);
  const key = connectAsKey(privateKey, pub);
  let plain: Buffer;
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce);
    d.setAuthTag(sealed.subarray(len - CONNECT_AS_TAG_BYTES));
    plain = Buffer.concat([d.update(sealed.subarray(0, len - CONNECT_AS_TAG_BYTES)), d.final()]);
  } catch {
    throw failed('AES-256-GCM decryption failed (wrong key, nonce or tampered ciphertext)');
  } finally {
    key.fill(0);
  }
  try {
    return parsePayload(plain.toString('utf8'));
  } finally {
    plain.fill(0);
  }
}

/**
 * Merges a payload into guacd parameters (normalised names) under the allow flags: user fields with
 * `allow_supply_user`; `host`/`port` with `allow_supply_host`, and they replace the guacd address the
 * gateway dials (the original's behaviour). Returns new objects; the inputs are not changed.
 */
export function applyConnectAs<T extends { host: string; port: number }>(
  payload: ConnectAsPayload,
  settings: ConnectAsSettings,
  params: ReadonlyMap<string, string>,
  address: T | undefined,
): { params: Map<string, string>; address: { host: string; port: number } | undefined } {
  const out = new Map(params);
  if (settings.allowSupplyUser) {
    for (const f of USER_FIELDS) {
      const v = payload.user[f];
      if (v !== undefined) out.set(USER_FIELD_PARAM[f], v);
    }
  }
  let addr: { host: string; port: number } | undefined = address;
  if (settings.allowSupplyHost && (payload.host !== undefined || payload.port !== undefined)) {
    const host = payload.host ?? address?.host;
    const port = payload.port ?? address?.port;
    addr = host !== undefined && port !== undefined ? { host, port } : undefined;
  }
  return { params: out, address: addr };
}
