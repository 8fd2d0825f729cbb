/**
 * Patch `sctp-sack-build`: a SACK without gap reports or duplicate TSNs (what a receiver sends on a clean path,
 * idle keepalives included) written straight into one 28-byte packet; the same bytes as werift's.
 *
 * Why (werift 0.25.2): `sendSack` copies the misordered-TSN set into a sorted array, builds a `SackChunk`
 * object, and `sendChunk` → `serializePacket` allocates the common header, a four-byte zero buffer, the chunk
 * bytes, their concatenation to checksum (with a CRC-32C that destructures fifteen tables per call), a checksum
 * buffer and the final concatenation. On idle tubes SACKs are about 45 % of the SCTP packets sent (one per
 * keepalive ping and echo), figures in docs/PERFORMANCE.md "Transport, part 2".
 *
 * Ours, on the association instance (`sendSack` is a prototype method, called through the instance by werift
 * and by `sctp-sack`): the same checks and the same state changes in the same order (nothing while stopping or
 * when no SACK is needed; the packet handed to the DTLS transport synchronously; after that send settles, the
 * duplicate list cleared and the SACK flags reset), with the packet written by us: common header, SACK chunk
 * (type 3, flags 0, length 16, cumulative TSN, advertised window, no gap blocks, no duplicates), CRC-32C
 * (ours, src/webrtc/patches/crc32c.ts) in little-endian order as werift writes it. A SACK with gaps or
 * duplicates, an association that is closed or has no remote port yet, goes to werift's own `sendSack`.
 */
import type { RTCPeerConnection } from 'werift';
import { crc32c } from './crc32c.ts';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction, expectType, sctpOf } from './internals.ts';

const NAME = 'sctp-sack-build';
const SACK_PACKET = 28; // 12-byte common header + 16-byte SACK chunk without gap blocks or duplicates

/** The parts of werift's SCTP association this patch reads or replaces. */
export interface SackSenderShape {
  isStopped: boolean;
  sackNeeded: boolean;
  sackImmediate: boolean;
  sackPacketCount: number;
  sackDuplicates: number[];
  sackMisOrdered: Set<number>;
  lastReceivedTsn: number | undefined;
  advertisedRwnd: number;
  state: string;
  localPort: number;
  remotePort: number | undefined;
  remoteVerificationTag: number;
  transport: { send(packet: Buffer): Promise<void> | undefined };
  sendSack(): Promise<void>;
}

/** Mismatches between werift's SCTP association and what this patch expects. */
export function checkSackSender(sctp: unknown, where: string): string[] {
  if (sctp === null || typeof sctp !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  const s = sctp as SackSenderShape;
  expectFunction(problems, s, where, 'sendSack', 0);
  expectFunction(problems, s.transport, `${where}.transport`, 'send', 1);
  for (const f of ['sackNeeded', 'sackImmediate', 'isStopped'] as const)
    expectType(problems, s, where, f, 'boolean');
  for (const f of ['sackPacketCount', 'advertisedRwnd', 'localPort', 'remoteVerificationTag'] as const) {
    expectType(problems, s, where, f, 'number');
  }
  expectType(problems, s, where, 'state', 'string');
  if (!Array.isArray(s.sackDuplicates)) problems.push(`${where}.sackDuplicates is not an array`);
  if (!(s.sackMisOrdered instanceof Set)) problems.push(`${where}.sackMisOrdered is not a Set`);
  const proto = Object.getPrototypeOf(s) as Record<string, unknown>;
  const src = String(proto['sendSack'] ?? '');
  // the steps reproduced here, in werift's order
  for (const step of [
    'if (this.isStopped) return;',
    'if (!this.sackNeeded) return;',
    'sack.cumulativeTsn = this.lastReceivedTsn;',
    'sack.advertisedRwnd = Math.max(0, this.advertisedRwnd);',
    'await this.sendChunk(sack)',
    'this.sackDuplicates = [];',
    'this.sackNeeded = false;',
    'this.sackPacketCount = 0;',
    'this.sackImmediate = false;',
  ]) {
    if (!src.includes(step)) problems.push(`${where}.sendSack no longer does "${step}"`);
  }
  const send = String(proto['sendChunk'] ?? '');
  if (!send.includes('serializePacket(') || !send.includes('this.remoteVerificationTag')) {
    problems.push(`${where}.sendChunk no longer serialises with the remote verification tag`);
  }
  return problems;
}

/** The SACK packet werift would send for `s` now (clean path only: no gaps, no duplicates). */
export function sackPacket(s: SackSenderShape): Buffer {
  const p = Buffer.allocUnsafe(SACK_PACKET);
  p.writeUInt16BE(s.localPort, 0);
  p.writeUInt16BE(s.remotePort as number, 2);
  p.writeUInt32BE(s.remoteVerificationTag, 4);
  p.writeUInt32BE(0, 8);
  p[12] = 3; // SACK
  p[13] = 0;
  p.writeUInt16BE(16, 14);
  p.writeUInt32BE(s.lastReceivedTsn as number, 16);
  p.writeUInt32BE(Math.max(0, s.advertisedRwnd), 20);
  p.writeUInt32BE(0, 24); // no gap blocks, no duplicate TSNs
  p.writeUInt32LE(crc32c(p), 8);
  return p;
}

/** SACKs written by us / left to werift (tests and diagnostics). */
export const sackBuildStats = { ours: 0, werift: 0 };
const patched = new WeakSet<object>();

/** Installs our `sendSack` on the association (once). */
export function patchSackSender(s: SackSenderShape): void {
  if (patched.has(s)) return;
  patched.add(s);
  const stock = s.sendSack;
  s.sendSack = async function sendSack(): Promise<void> {
    if (s.isStopped || !s.sackNeeded) return;
    if (
      s.sackMisOrdered.size > 0 ||
      s.sackDuplicates.length > 0 ||
      s.state === 'closed' ||
      s.remotePort === undefined ||
      typeof s.lastReceivedTsn !== 'number'
    ) {
      sackBuildStats.werift++;
      return stock.call(s);
    }
    sackBuildStats.ours++;
    try {
      await s.transport.send(sackPacket(s));
    } catch {
      // werift logs "send sack failed" and goes on
    }
    if (s.sackDuplicates.length > 0) s.sackDuplicates = [];
    s.sackNeeded = false;
    s.sackPacketCount = 0;
    s.sackImmediate = false;
  };
}

export const sctpSackBuildPatch: WeriftPatch = {
  name: NAME,
  description: 'SACKs without gaps or duplicates written into one packet (same bytes as werift)',
  install(pc: RTCPeerConnection, ctx: PatchContext) {
    ctx.whenConnected(() => {
      const sctp = sctpOf(pc);
      if (!sctp || patched.has(sctp)) return;
      const problems = checkSackSender(sctp, 'pc.sctpTransport.sctp');
      if (problems.length > 0) {
        ctx.shapeMismatch(NAME, problems);
        return;
      }
      patchSackSender(sctp as unknown as SackSenderShape);
      ctx.markActive(NAME);
    });
  },
};
