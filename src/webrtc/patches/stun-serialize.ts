/**
 * Patch `stun-serialize`: werift's STUN messages (ICE checks, consent checks and their responses) serialised
 * in one buffer instead of werift's chain of concatenations; the same bytes.
 *
 * Why (werift 0.25.2): `Message.bytes` packs every attribute into its own buffer, pads each with another
 * `Buffer.concat`, concatenates them, then the header; an XOR address is XORed one byte at a time with a
 * `Buffer.concat` per byte; `addMessageIntegrity` serialises the whole message twice and `addFingerprint` once
 * more, each time copying it again to patch the length field, and the HMAC goes through a hex string. A consent
 * check (every 5 s each way, RFC 7675) and its response together allocated ≈ 15 % of what an idle tube
 * allocates (figures in docs/PERFORMANCE.md "Transport, part 2").
 *
 * Ours, on werift's exported `Message` class (process-wide, like `dtls-native-x25519`: a stock-werift
 * connection in the same process gets the same bytes through it): `bytes` writes the header and every
 * attribute (type, length, value, zero padding) into one buffer; `messageIntegrity(key)` and
 * `addFingerprint()` patch the length field of that buffer in place before the HMAC-SHA1 / CRC-32. Only the
 * attributes ICE uses are written here (USERNAME, PRIORITY, ICE-CONTROLLED, ICE-CONTROLLING, USE-CANDIDATE,
 * MESSAGE-INTEGRITY, FINGERPRINT, ERROR-CODE, XOR-MAPPED-ADDRESS with an IPv4 address); a message with any
 * other attribute, an IPv6 address or raw (unknown) attributes goes to werift's own code, as does anything that
 * does not have the expected value type. test/interop/werift-idle-patches.test.ts compares both byte for byte.
 */
import { createHmac } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { Message, type RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';

const NAME = 'stun-serialize';
const COOKIE = 0x2112a442;
const HEADER = 20;
const INTEGRITY_ATTR = 24; // 4-byte attribute header + 20-byte HMAC-SHA1
const FINGERPRINT_ATTR = 8;
const FINGERPRINT_XOR = 0x5354554e;

/** The parts of werift's STUN `Message` this patch reads or replaces. */
export interface MessageShape {
  messageMethod: number;
  messageClass: number;
  transactionId: Buffer;
  attributes: [string, unknown][];
  rawAttributes: unknown[];
  readonly bytes: Buffer;
  messageIntegrity(key: Buffer): Buffer;
  addFingerprint(): MessageShape;
  setAttribute(key: string, value: unknown): MessageShape;
}

interface StockMessage {
  bytes: (this: MessageShape) => Buffer;
  messageIntegrity: (this: MessageShape, key: Buffer) => Buffer;
  addFingerprint: (this: MessageShape) => MessageShape;
}

const CRC32 = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC32[n] = c;
}

function crc32(data: Uint8Array, end: number): number {
  let crc = -1;
  for (let i = 0; i < end; i++) crc = (CRC32[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

const pad4 = (n: number): number => (n + 3) & ~3;

const TYPES: Record<string, number> = {
  USERNAME: 0x0006,
  'MESSAGE-INTEGRITY': 0x0008,
  'ERROR-CODE': 0x0009,
  'XOR-MAPPED-ADDRESS': 0x0020,
  PRIORITY: 0x0024,
  'USE-CANDIDATE': 0x0025,
  FINGERPRINT: 0x8028,
  'ICE-CONTROLLED': 0x8029,
  'ICE-CONTROLLING': 0x802a,
};

/** Length of the encoded value of one attribute, or -1 when this patch does not encode it. */
function valueLength(name: string, value: unknown): number {
  switch (name) {
    case 'USERNAME':
      return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : -1;
    case 'PRIORITY':
    case 'FINGERPRINT':
      return typeof value === 'number' ? 4 : -1;
    case 'ICE-CONTROLLED':
    case 'ICE-CONTROLLING':
      return typeof value === 'bigint' ? 8 : -1;
    case 'USE-CANDIDATE':
      return 0;
    case 'MESSAGE-INTEGRITY':
      return Buffer.isBuffer(value) ? value.length : -1;
    case 'ERROR-CODE':
      return Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string'
        ? 4 + Buffer.byteLength(value[1], 'utf8')
        : -1;
    case 'XOR-MAPPED-ADDRESS':
      return Array.isArray(value) &&
        typeof value[0] === 'string' &&
        typeof value[1] === 'number' &&
        isIPv4(value[0])
        ? 8
        : -1;
    default:
      return -1;
  }
}

/** Writes one attribute's value at `o` (its length is `len`, already checked by valueLength). */
function writeValue(out: Buffer, o: number, name: string, value: unknown, len: number): void {
  switch (name) {
    case 'USERNAME':
      out.write(value as string, o, len, 'utf8');
      return;
    case 'PRIORITY':
    case 'FINGERPRINT':
      out.writeUInt32BE(value as number, o);
      return;
    case 'ICE-CONTROLLED':
    case 'ICE-CONTROLLING':
      out.writeBigUInt64BE(value as bigint, o);
      return;
    case 'USE-CANDIDATE':
      return;
    case 'MESSAGE-INTEGRITY':
      (value as Buffer).copy(out, o);
      return;
    case 'ERROR-CODE': {
      const [code, reason] = value as [number, string];
      out.writeUInt16BE(0, o);
      out.writeUInt8(Math.floor(code / 100), o + 2);
      out.writeUInt8(code % 100, o + 3);
      out.write(reason, o + 4, len - 4, 'utf8');
      return;
    }
    case 'XOR-MAPPED-ADDRESS': {
      // RFC 8489 §14.2: family, port XOR the cookie's top 16 bits, address XOR the cookie (IPv4)
      const [address, port] = value as [string, number];
      out[o] = 0;
      out[o + 1] = 1;
      out.writeUInt16BE((port & 0xffff) ^ (COOKIE >>> 16), o + 2);
      const parts = address.split('.');
      for (let i = 0; i < 4; i++) {
        out[o + 4 + i] = (Number(parts[i]) & 0xff) ^ ((COOKIE >>> (24 - 8 * i)) & 0xff);
      }
      return;
    }
  }
}

/** The message serialised by us, or undefined when it holds something this patch leaves to werift. */
export function serializeMessage(m: MessageShape): Buffer | undefined {
  if (m.rawAttributes.length > 0 || !Buffer.isBuffer(m.transactionId) || m.transactionId.length !== 12)
    return undefined;
  let body = 0;
  for (const [name, value] of m.attributes) {
    const len = valueLength(name, value);
    if (len < 0 || len > 0xffff) return undefined;
    body += 4 + pad4(len);
  }
  const out = Buffer.alloc(HEADER + body);
  out.writeUInt16BE(m.messageMethod | m.messageClass, 0);
  out.writeUInt16BE(body, 2);
  out.writeUInt32BE(COOKIE, 4);
  m.transactionId.copy(out, 8);
  let o = HEADER;
  for (const [name, value] of m.attributes) {
    const len = valueLength(name, value);
    out.writeUInt16BE(TYPES[name] as number, o);
    out.writeUInt16BE(len, o + 2);
    writeValue(out, o + 4, name, value, len);
    o += 4 + pad4(len);
  }
  return out;
}

/** Mismatches between werift's `Message` and what this patch expects. */
export function checkMessageClass(MessageClass: unknown = Message): string[] {
  if (typeof MessageClass !== 'function') return ['werift no longer exports Message'];
  const problems: string[] = [];
  const proto = MessageClass.prototype as object;
  const bytes = Object.getOwnPropertyDescriptor(proto, 'bytes');
  if (typeof bytes?.get !== 'function') problems.push('Message.bytes is not a getter');
  for (const [m, arity] of [
    ['messageIntegrity', 1],
    ['addFingerprint', 0],
    ['addMessageIntegrity', 1],
  ] as const) {
    const fn = Object.getOwnPropertyDescriptor(proto, m)?.value as unknown;
    if (typeof fn !== 'function') problems.push(`Message.${m} is not a method`);
    else if ((fn as () => void).length !== arity) problems.push(`Message.${m} takes ${arity} parameters`);
  }
  const addMi = String(Object.getOwnPropertyDescriptor(proto, 'addMessageIntegrity')?.value);
  if (!/this\.messageIntegrity\(key\)/.test(addMi))
    problems.push('Message.addMessageIntegrity no longer calls messageIntegrity');
  const m = new (MessageClass as new (method: number, cls: number) => MessageShape)(1, 0);
  if (!Array.isArray(m.attributes) || !Array.isArray(m.rawAttributes) || !Buffer.isBuffer(m.transactionId)) {
    problems.push('Message fields (attributes, rawAttributes, transactionId) differ');
  }
  return problems;
}

/** werift's own implementations, kept for the fallback and for tests. */
let stock: StockMessage | undefined;
let outcome: string[] | undefined;
/** Messages serialised by us / left to werift (tests and diagnostics). */
export const stunSerializeStats = { ours: 0, werift: 0 };

export function stockMessageMethods(): StockMessage | undefined {
  return stock;
}

/** Replaces `Message.prototype`'s serialisation (once per process); returns the mismatches ([] = in force). */
export function installStunSerialize(): string[] {
  if (outcome !== undefined) return outcome;
  outcome = checkMessageClass();
  if (outcome.length > 0) return outcome;
  const proto = Message.prototype as unknown as MessageShape;
  const s: StockMessage = {
    bytes: Object.getOwnPropertyDescriptor(proto, 'bytes')?.get as StockMessage['bytes'],
    messageIntegrity: proto.messageIntegrity,
    addFingerprint: proto.addFingerprint,
  };
  stock = s;
  const bytesOf = (m: MessageShape): Buffer => {
    const ours = serializeMessage(m);
    if (ours) {
      stunSerializeStats.ours++;
      return ours;
    }
    stunSerializeStats.werift++;
    return s.bytes.call(m);
  };
  Object.defineProperty(proto, 'bytes', {
    configurable: true,
    enumerable: false,
    get(this: MessageShape): Buffer {
      return bytesOf(this);
    },
  });
  proto.messageIntegrity = function messageIntegrity(this: MessageShape, key: Buffer): Buffer {
    const b = bytesOf(this);
    b.writeUInt16BE(b.length - HEADER + INTEGRITY_ATTR, 2);
    return createHmac('sha1', key).update(b).digest();
  };
  proto.addFingerprint = function addFingerprint(this: MessageShape): MessageShape {
    const b = bytesOf(this);
    b.writeUInt16BE(b.length - HEADER + FINGERPRINT_ATTR, 2);
    this.setAttribute('FINGERPRINT', (crc32(b, b.length) ^ FINGERPRINT_XOR) >>> 0);
    return this;
  };
  return outcome;
}

export const stunSerializePatch: WeriftPatch = {
  name: NAME,
  description: "STUN messages serialised in one buffer (werift's Message, same bytes)",
  install(_pc: RTCPeerConnection, ctx: PatchContext) {
    const problems = installStunSerialize();
    if (problems.length > 0) ctx.shapeMismatch(NAME, problems);
    else ctx.markActive(NAME);
  },
};
