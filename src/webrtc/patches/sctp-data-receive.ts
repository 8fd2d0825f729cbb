/**
 * Patch `sctp-data-receive`: our own `handleData` for SCTP packets that carry only DATA chunks (the bulk of
 * what a receiver sees). werift 0.25.2 parses every packet by concatenating header, four zero bytes and body
 * into a new buffer to checksum it, then builds a chunk object per chunk through its chunk table. Ours checks
 * the CRC-32C in place (the checksum field zeroed and restored) and hands plain chunk records with the fields
 * werift's reassembly reads to the association's `receiveDataChunk`, then applies werift's own SACK counting
 * and `scheduleSack`. Any packet with another chunk type (SACK, INIT, COOKIE, FORWARD-TSN, RECONFIG, …) or
 * anything malformed goes to werift's `handleData` unchanged. A packet with a bad checksum is dropped (werift
 * throws inside an un-awaited async handler: an unhandled rejection).
 */
import type { RTCPeerConnection } from 'werift';
import { crc32c } from './crc32c.ts';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction, expectType, type SctpShape, sctpOf } from './internals.ts';

const NAME = 'sctp-data-receive';
const COMMON_HEADER = 12;
const DATA_HEADER = 16;

interface ReceiverShape extends SctpShape {
  localVerificationTag: number;
}

const patched = new WeakSet<object>();

/** Mismatches between werift's SCTP association (receiving side) and what this patch expects. */
export function checkSctpReceiver(sctp: unknown, where: string): string[] {
  if (sctp === null || typeof sctp !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  expectFunction(problems, sctp, where, 'handleData', 1);
  expectFunction(problems, sctp, where, 'receiveDataChunk', 1);
  expectFunction(problems, sctp, where, 'scheduleSack', 0);
  expectType(problems, sctp, where, 'localVerificationTag', 'number');
  expectType(problems, sctp, where, 'sackPacketCount', 'number');
  expectType(problems, sctp, where, 'sackHasNewDataInPacket', 'boolean');
  expectType(problems, sctp, where, 'sackNeeded', 'boolean');
  expectType(problems, sctp, where, 'isStopped', 'boolean');
  return problems;
}

/** True when `data` is a well-formed SCTP packet made of DATA chunks only. */
function onlyDataChunks(data: Buffer): boolean {
  if (data.length < COMMON_HEADER + DATA_HEADER) return false;
  let at = COMMON_HEADER;
  while (at < data.length) {
    if (data.length - at < 4 || data[at] !== 0) return false;
    const length = data.readUInt16BE(at + 2);
    if (length < DATA_HEADER || at + length > data.length) return false;
    at += (length + 3) & ~3;
  }
  return true;
}

function patchReceiver(s: ReceiverShape): void {
  patched.add(s);
  const stockHandleData = s.handleData;
  s.handleData = async (data: Buffer): Promise<void> => {
    if (s.isStopped) return;
    if (!onlyDataChunks(data)) return stockHandleData.call(s, data);
    if (data.readUInt32BE(4) !== s.localVerificationTag) return; // werift drops these too
    const checksum = data.readUInt32LE(8);
    data.writeUInt32LE(0, 8);
    const valid = crc32c(data) === checksum;
    data.writeUInt32LE(checksum, 8);
    if (!valid) return;
    s.sackHasNewDataInPacket = false;
    let at = COMMON_HEADER;
    while (at < data.length) {
      const length = data.readUInt16BE(at + 2);
      s.receiveDataChunk({
        type: 0,
        flags: data[at + 1] as number,
        tsn: data.readUInt32BE(at + 4),
        streamId: data.readUInt16BE(at + 8),
        streamSeqNum: data.readUInt16BE(at + 10),
        protocol: data.readUInt32BE(at + 12),
        userData: data.subarray(at + DATA_HEADER, at + length),
      } as Parameters<SctpShape['receiveDataChunk']>[0]);
      at += (length + 3) & ~3;
    }
    if (s.sackNeeded) {
      if (s.sackHasNewDataInPacket) s.sackPacketCount++;
      if (s.sackPacketCount >= 2) s.sackImmediate = true;
      await s.scheduleSack();
    }
  };
}

function apply(pc: RTCPeerConnection, ctx: PatchContext): void {
  const sctp = sctpOf(pc) as ReceiverShape | undefined;
  if (!sctp || patched.has(sctp)) return;
  const problems = checkSctpReceiver(sctp, 'pc.sctpTransport.sctp');
  if (problems.length > 0) {
    ctx.shapeMismatch(NAME, problems);
    return;
  }
  patchReceiver(sctp);
  ctx.markActive(NAME);
}

export const sctpDataReceivePatch: WeriftPatch = {
  name: NAME,
  description:
    'own SCTP receive path for DATA-only packets (in-place CRC-32C check, no per-packet concatenation)',
  install(pc, ctx) {
    ctx.whenConnected(() => apply(pc, ctx));
  },
};
