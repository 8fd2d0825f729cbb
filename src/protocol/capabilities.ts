/**
 * Capability discovery and keepalive, both riding on Ping/Pong (docs/PROTOCOL.md).
 *
 * A peer that knows our extensions answers the probe Ping (`TUBES?` + version) with a Pong whose body
 * starts `TUBES!` + version + a u32 capability bitset. The Rust original echoes any Ping body unchanged,
 * so its Pong starts `TUBES?`: that reads as "no extensions", and it is never disturbed.
 *
 * Keepalive pings carry an 8-byte big-endian millisecond timestamp that the responder echoes, giving RTT.
 */
export const Capability = {
  /** Per-connection FlowPause / FlowResume control messages. */
  FlowControl: 1 << 0,
  /** SOCKS5 UDP ASSOCIATE relay frames. */
  UdpAssociate: 1 << 1,
} as const;

export const OUR_CAPABILITIES = Capability.FlowControl | Capability.UdpAssociate;

const PROBE = Buffer.from('TUBES?', 'latin1');
const ANSWER = Buffer.from('TUBES!', 'latin1');
const VERSION = 1;

/** Body (after conn_no) of the probe Ping. */
export function capabilityProbeBody(): Buffer {
  const out = Buffer.allocUnsafe(PROBE.length + 1);
  PROBE.copy(out, 0);
  out[PROBE.length] = VERSION;
  return out;
}

function startsWith(body: Uint8Array, prefix: Buffer): boolean {
  if (body.length < prefix.length + 1) return false;
  for (let i = 0; i < prefix.length; i++) if (body[i] !== prefix[i]) return false;
  return true;
}

export function isCapabilityProbe(body: Uint8Array): boolean {
  return startsWith(body, PROBE);
}

/** Body (after conn_no) of our Pong answering a probe. */
export function capabilityAnswerBody(capabilities = OUR_CAPABILITIES): Buffer {
  const out = Buffer.allocUnsafe(ANSWER.length + 5);
  ANSWER.copy(out, 0);
  out[ANSWER.length] = VERSION;
  out.writeUInt32BE(capabilities >>> 0, ANSWER.length + 1);
  return out;
}

/**
 * Reads a Pong body: the peer's capabilities for an answer, 0 for an echoed probe (a peer without
 * extensions), undefined when the Pong is not about capabilities.
 */
export function readCapabilityPong(body: Uint8Array): number | undefined {
  if (startsWith(body, PROBE)) return 0;
  if (startsWith(body, ANSWER) && body.length >= ANSWER.length + 5) {
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).readUInt32BE(ANSWER.length + 1);
  }
  return undefined;
}

export function keepaliveBody(nowMs: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeUInt32BE(Math.floor(nowMs / 0x1_0000_0000) >>> 0, 0);
  out.writeUInt32BE(nowMs >>> 0, 4);
  return out;
}

/** The timestamp of an echoed keepalive body, or undefined if the body is not one. */
export function readKeepalive(body: Uint8Array): number | undefined {
  if (body.length !== 8) return undefined;
  const b = Buffer.from(body.buffer, body.byteOffset, 8);
  return b.readUInt32BE(0) * 0x1_0000_0000 + b.readUInt32BE(4);
}
