/**
 * Patch `dtls-record`: our own DTLS 1.2 AES-GCM record layer for application data, installed in place of the
 * per-instance `send` and datagram handler of werift's DtlsSocket once the handshake is done.
 *
 * werift, per record sent: builds a plaintext record object, creates a cipher from the raw key, allocates the
 * AAD, `Buffer.concat`s nonce + ciphertext + tag, then allocates and copies the whole record once more to
 * serialise it. Ours writes header, explicit nonce, ciphertext and tag into one buffer, with a cached
 * `KeyObject` and reused nonce/AAD buffers (RFC 5246 §6.2.3.3, RFC 5288: nonce = 4-byte implicit salt from the
 * key block || 8-byte explicit part = epoch || sequence number, as werift sends it; AAD = epoch, sequence
 * number, type, version, plaintext length). Receiving: a datagram made only of application-data records is
 * opened here and handed to the socket's `onData` event exactly as werift would; anything else (handshake,
 * alerts, change cipher spec, malformed input) goes to werift's own handler untouched.
 * Falls back to werift's own path whenever the session's cipher is not the AES-GCM cipher this was checked
 * against (e.g. a renegotiated session is re-checked first).
 */
import { createCipheriv, createDecipheriv, createSecretKey, KeyObject } from 'node:crypto';
import type { RTCPeerConnection } from 'werift';
import { checkAeadCipher } from './dtls-keyobject.ts';
import type { PatchContext, WeriftPatch } from './index.ts';
import {
  type AeadCipherShape,
  type CipherContextShape,
  type DtlsSocketShape,
  dtlsTransportsOf,
  expectFunction,
  expectType,
  ownFunction,
} from './internals.ts';

const NAME = 'dtls-record';
const HEADER = 13;
const EXPLICIT_NONCE = 8;
const TAG = 16;
const IMPLICIT_NONCE = 4;
const CONTENT_APPLICATION_DATA = 23;
/** werift's SessionType.CLIENT (dtls/src/cipher/suites/abstract.ts). */
const SESSION_CLIENT = 1;
const SESSION_SERVER = 2;
/**
 * Records from this size on get a buffer of their own instead of a slice of Node's Buffer pool (64 KiB slabs
 * since Node 24, which pools anything under 32 KiB; Node 22 pools only under 4 KiB). Records this large come only
 * with `sctp-plpmtud`'s larger packets: pooled, a few of them per connection pushed every later small pooled
 * allocation (werift's long-lived DTLS and handshake state among them) into fresh slabs that it then pinned.
 */
const UNPOOLED_RECORD = 4096;

interface Keys {
  context: CipherContextShape;
  aead: AeadCipherShape;
  algorithm: string;
  localKey: KeyObject;
  remoteKey: KeyObject;
  localNonce: Buffer;
  remoteNonce: Buffer;
  aad: Buffer;
}

const patched = new WeakMap<DtlsSocketShape, { keys: Keys | undefined }>();

function keyObject(key: Buffer | KeyObject): KeyObject {
  return key instanceof KeyObject ? key : createSecretKey(key);
}

/** The socket's current keys, rebuilt if werift replaced its cipher; undefined = use werift's own path. */
function keysOf(socket: DtlsSocketShape, slot: { keys: Keys | undefined }): Keys | undefined {
  const context = socket.cipher;
  const aead = context?.cipher;
  const cached = slot.keys;
  if (cached && cached.context === context && cached.aead === aead) return cached;
  slot.keys = undefined;
  if (!aead || (aead.blockAlgorithm !== 'aes-128-gcm' && aead.blockAlgorithm !== 'aes-256-gcm'))
    return undefined;
  if (
    aead.nonceImplicitLength !== IMPLICIT_NONCE ||
    aead.nonceExplicitLength !== EXPLICIT_NONCE ||
    aead.authTagLength !== TAG ||
    checkAeadCipher(aead, 'cipher').length > 0
  ) {
    return undefined;
  }
  const client = context.sessionType === SESSION_CLIENT;
  const localKey = client ? aead.clientWriteKey : aead.serverWriteKey;
  const remoteKey = client ? aead.serverWriteKey : aead.clientWriteKey;
  const localSalt = client ? aead.clientNonce : aead.serverNonce;
  const remoteSalt = client ? aead.serverNonce : aead.clientNonce;
  if (!localKey || !remoteKey || !localSalt || !remoteSalt) return undefined;
  const localNonce = Buffer.alloc(IMPLICIT_NONCE + EXPLICIT_NONCE);
  const remoteNonce = Buffer.alloc(IMPLICIT_NONCE + EXPLICIT_NONCE);
  localSalt.copy(localNonce, 0, 0, IMPLICIT_NONCE);
  remoteSalt.copy(remoteNonce, 0, 0, IMPLICIT_NONCE);
  slot.keys = {
    context,
    aead,
    algorithm: aead.blockAlgorithm,
    localKey: keyObject(localKey),
    remoteKey: keyObject(remoteKey),
    localNonce,
    remoteNonce,
    aad: Buffer.alloc(13),
  };
  return slot.keys;
}

/** Seals `data` as the next application-data record of `socket`'s session. */
export function sealRecord(socket: DtlsSocketShape, keys: Keys, data: Buffer): Buffer {
  const dtls = socket.dtls;
  const seq = ++dtls.recordSequenceNumber;
  const len = data.length;
  const size = HEADER + EXPLICIT_NONCE + len + TAG;
  const out = size >= UNPOOLED_RECORD ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
  out[0] = CONTENT_APPLICATION_DATA;
  out[1] = dtls.version.major;
  out[2] = dtls.version.minor;
  out.writeUInt16BE(dtls.epoch, 3);
  out.writeUIntBE(seq, 5, 6);
  out.writeUInt16BE(EXPLICIT_NONCE + len + TAG, 11);
  // explicit nonce = epoch || sequence number (bytes 3..11 of the header)
  out.copy(out, HEADER, 3, 11);
  out.copy(keys.localNonce, IMPLICIT_NONCE, 3, 11);
  const aad = keys.aad;
  out.copy(aad, 0, 3, 11);
  aad[8] = CONTENT_APPLICATION_DATA;
  aad[9] = out[1] as number;
  aad[10] = out[2] as number;
  aad.writeUInt16BE(len, 11);
  const cipher = createCipheriv(keys.algorithm as 'aes-128-gcm', keys.localKey, keys.localNonce, {
    authTagLength: TAG,
  });
  cipher.setAAD(aad, { plaintextLength: len });
  const body = cipher.update(data);
  body.copy(out, HEADER + EXPLICIT_NONCE);
  const rest = cipher.final();
  if (rest.length > 0) rest.copy(out, HEADER + EXPLICIT_NONCE + body.length);
  cipher.getAuthTag().copy(out, HEADER + EXPLICIT_NONCE + len);
  return out;
}

/** Opens one application-data record (`record` = header + fragment); throws when authentication fails. */
export function openRecord(keys: Keys, record: Buffer): Buffer {
  const fragmentLength = record.length - HEADER;
  const len = fragmentLength - EXPLICIT_NONCE - TAG;
  record.copy(keys.remoteNonce, IMPLICIT_NONCE, HEADER, HEADER + EXPLICIT_NONCE);
  const aad = keys.aad;
  record.copy(aad, 0, 3, 11);
  aad[8] = record[0] as number;
  aad[9] = record[1] as number;
  aad[10] = record[2] as number;
  aad.writeUInt16BE(len, 11);
  const decipher = createDecipheriv(keys.algorithm as 'aes-128-gcm', keys.remoteKey, keys.remoteNonce, {
    authTagLength: TAG,
  });
  decipher.setAuthTag(record.subarray(record.length - TAG));
  decipher.setAAD(aad, { plaintextLength: len });
  const plain = decipher.update(record.subarray(HEADER + EXPLICIT_NONCE, record.length - TAG));
  const rest = decipher.final();
  return rest.length > 0 ? Buffer.concat([plain, rest]) : plain;
}

/** True when `data` is one or more complete application-data records (and nothing else). */
function onlyApplicationData(data: Buffer): boolean {
  let at = 0;
  while (at < data.length) {
    if (data.length - at < HEADER || data[at] !== CONTENT_APPLICATION_DATA) return false;
    const fragment = data.readUInt16BE(at + 11);
    if (fragment < EXPLICIT_NONCE + TAG || at + HEADER + fragment > data.length) return false;
    at += HEADER + fragment;
  }
  return at > 0;
}

/** Mismatches between a connected werift DtlsSocket and what this patch expects. */
export function checkDtlsSocket(socket: unknown, where: string): string[] {
  const problems: string[] = [];
  if (socket === null || typeof socket !== 'object') return [`${where} is missing`];
  const s = socket as DtlsSocketShape;
  if (!ownFunction(s, 'send')) problems.push(`${where}.send is not an own function property`);
  else expectFunction(problems, s, where, 'send', 2);
  if (!ownFunction(s, 'udpOnMessage')) problems.push(`${where}.udpOnMessage is not an own function property`);
  else expectFunction(problems, s, where, 'udpOnMessage', 1);
  expectType(problems, s, where, 'connected', 'boolean');
  expectType(problems, s.dtls, `${where}.dtls`, 'epoch', 'number');
  expectType(problems, s.dtls, `${where}.dtls`, 'recordSequenceNumber', 'number');
  expectType(problems, s.dtls?.version, `${where}.dtls.version`, 'major', 'number');
  expectType(problems, s.dtls?.version, `${where}.dtls.version`, 'minor', 'number');
  const sessionType = s.cipher?.sessionType;
  if (sessionType !== SESSION_CLIENT && sessionType !== SESSION_SERVER) {
    problems.push(`${where}.cipher.sessionType is ${String(sessionType)}, expected 1 or 2`);
  }
  expectFunction(problems, s.transport, `${where}.transport`, 'send', 2);
  const iceSide = s.transport?.socket;
  if (!iceSide || typeof iceSide.onData !== 'function')
    problems.push(`${where}.transport.socket.onData is missing`);
  else if (iceSide.onData !== s.udpOnMessage && !patched.has(s)) {
    problems.push(`${where}.transport.socket.onData is not the socket's udpOnMessage`);
  }
  expectFunction(problems, s.onData, `${where}.onData`, 'execute', 0);
  return problems;
}

function patchSocket(socket: DtlsSocketShape): void {
  const slot = { keys: undefined as Keys | undefined };
  patched.set(socket, slot);
  const stockSend = socket.send;
  const stockReceive = socket.udpOnMessage;
  socket.send = (buf: Buffer, addr?: unknown): Promise<void> => {
    const keys = keysOf(socket, slot);
    if (!keys) return stockSend(buf, addr);
    let record: Buffer;
    try {
      record = sealRecord(socket, keys, buf);
    } catch (err) {
      return Promise.reject(err);
    }
    return socket.transport.send(record, addr);
  };
  socket.transport.socket.onData = (data: Buffer): void => {
    const keys = socket.connected ? keysOf(socket, slot) : undefined;
    if (!keys || !onlyApplicationData(data)) {
      stockReceive(data);
      return;
    }
    let at = 0;
    while (at < data.length) {
      const end = at + HEADER + data.readUInt16BE(at + 11);
      let plain: Buffer;
      try {
        plain = openRecord(keys, data.subarray(at, end));
      } catch {
        at = end; // a record that fails authentication is dropped, as werift drops it
        continue;
      }
      at = end;
      try {
        socket.onData.execute(plain);
      } catch {
        // werift's handler swallows errors thrown by data subscribers too
      }
    }
  };
}

function apply(pc: RTCPeerConnection, ctx: PatchContext): void {
  for (const [i, t] of dtlsTransportsOf(pc).entries()) {
    const socket = t.dtls;
    if (t.state !== 'connected' || !socket || patched.has(socket)) continue;
    const problems = checkDtlsSocket(socket, `pc.dtlsTransports[${i}].dtls`);
    const cipher = socket.cipher?.cipher;
    if (cipher && typeof cipher.blockAlgorithm === 'string' && !cipher.blockAlgorithm.endsWith('-gcm'))
      continue;
    problems.push(...checkAeadCipher(cipher, `pc.dtlsTransports[${i}].dtls.cipher.cipher`));
    if (problems.length > 0) {
      ctx.shapeMismatch(NAME, problems);
      continue;
    }
    patchSocket(socket);
    ctx.markActive(NAME);
  }
}

export const dtlsRecordPatch: WeriftPatch = {
  name: NAME,
  description: 'own AES-GCM DTLS record layer for application data (one buffer per record, cached KeyObject)',
  install(pc, ctx) {
    ctx.whenConnected(() => apply(pc, ctx));
  },
};
