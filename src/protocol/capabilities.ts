/**
 * Capability discovery and keepalive, both riding on Ping/Pong (docs/PROTOCOL.md).
 *
 * A peer that knows our extensions answers the probe Ping (`TUBES?` + version) with a Pong whose body
 * starts `TUBES!` + version + a u32 capability bitset. The Rust original echoes any Ping body unchanged,
 * so its Pong starts `TUBES?`: that reads as "no extensions", and it is never disturbed.
 *
 * Keepalive pings carry an 8-byte big-endian millisecond timestamp that the responder echoes, giving RTT.
 * Platform-neutral (Uint8Array only): the browser build uses it as it is.
 */
import { allocBytes } from '../platform/bytes.ts';

export const Capability = {
  /** Per-connection FlowPause / FlowResume control messages. */
  FlowControl: 1 << 0,
  /** SOCKS5 UDP ASSOCIATE relay frames. */
  UdpAssociate: 1 << 1,
} as const;

export const OUR_CAPABILITIES = Capability.FlowControl | Capability.UdpAssociate;

const PROBE = Uint8Array.of(0x54, 0x55, 0x42, 0x45, 0x53, 0x3f); // TUBES?
const ANSWER = Uint8Array.of(0x54, 0x55, 0x42, 0x45, 0x53, 0x21); // TUBES!
const VERSION = 1;

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function writeU32(out: Uint8Array, value: number, at: number): void {
  out[at] = value >>> 24;
  out[at + 1] = value >>> 16;
  out[at + 2] = value >>> 8;
  out[at + 3] = value;
}

/** Body (after conn_no) of the probe Ping. */
export function capabilityProbeBody(): Uint8Array {
  const out = allocBytes(PROBE.length + 1);
  out.set(PROBE, 0);
  out[PROBE.length] = VERSION;
  return out;
}

function startsWith(body: Uint8Array, prefix: Uint8Array): boolean {
  if (body.length < prefix.length + 1) return false;
  for (let i = 0; i < prefix.length; i++) if (body[i] !== prefix[i]) return false;
  return true;
}

export function isCapabilityProbe(body: Uint8Array): boolean {
  return startsWith(body, PROBE);
}

/** Body (after conn_no) of our Pong answering a probe. */
export function capabilityAnswerBody(capabilities = OUR_CAPABILITIES): Uint8Array {
  const out = allocBytes(ANSWER.length + 5);
  out.set(ANSWER, 0);
  out[ANSWER.length] = VERSION;
  writeU32(out, capabilities >>> 0, ANSWER.length + 1);
  return out;
}

/**
 * The body of the Pong that answers a Ping (docs/PROTOCOL.md): with our extensions on, the probe on
 * conn 0 gets our capabilities; anything else is echoed unchanged (the original's rule).
 */
export function pongBodyFor(
  connNo: number,
  body: Uint8Array,
  extensions: boolean,
  capabilities = OUR_CAPABILITIES,
): Uint8Array {
  return connNo === 0 && extensions && isCapabilityProbe(body) ? capabilityAnswerBody(capabilities) : body;
}

/**
 * Reads a Pong body: the peer's capabilities for an answer, 0 for an echoed probe (a peer without
 * extensions), undefined when the Pong is not about capabilities.
 */
export function readCapabilityPong(body: Uint8Array): number | undefined {
  if (startsWith(body, PROBE)) return 0;
  if (startsWith(body, ANSWER) && body.length >= ANSWER.length + 5) {
    return readU32(body, ANSWER.length + 1);
  }
  return undefined;
}

export function keepaliveBody(nowMs: number): Uint8Array {
  const out = allocBytes(8);
  writeU32(out, Math.floor(nowMs / 0x1_0000_0000) >>> 0, 0);
  writeU32(out, nowMs >>> 0, 4);
  return out;
}

/** The timestamp of an echoed keepalive body, or undefined if the body is not one. */
export function readKeepalive(body: Uint8Array): number | undefined {
  if (body.length !== 8) return undefined;
  return readU32(body, 0) * 0x1_0000_0000 + readU32(body, 4);
}
