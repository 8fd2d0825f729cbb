/**
 * Patch `sctp-init-rto` (src/webrtc/patches/sctp-init-rto.ts): when nothing answers, a real werift 0.25.2
 * SCTP association resends its INIT after 1 s, then every 2 s, then every 3 s (the T1 backoff 1 → 2 → 3 s),
 * where stock werift waits 3 s each time. The association is the one a real RTCPeerConnection creates for its
 * data channel; its DTLS transport is swapped for a recorder that answers nothing (a path that loses every
 * packet), and fake timers make the 12 s of backoff take milliseconds.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RTCPeerConnection } from 'werift';
import { silentLogger } from '../../src/log.ts';
import { activeWeriftPatches, installWeriftPatches } from '../../src/webrtc/patches/index.ts';
import { INIT_RTO_SECONDS } from '../../src/webrtc/patches/sctp-init-rto.ts';

interface Association {
  rto: number;
  srtt: number | undefined;
  started: boolean;
  transport: { send(packet: Buffer): Promise<void> };
  setRemotePort(port: number): void;
  init(): Promise<void>;
  timer1Cancel(): void;
}

/** SCTP chunk type of the first chunk of a packet (12-byte common header first). */
const firstChunkType = (packet: Buffer): number | undefined => packet[12];
const INIT = 1;

const open: RTCPeerConnection[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const pc of open.splice(0)) await pc.close();
});

/**
 * An association that never hears back: sends its INIT at fake time 0 and runs `ms` of fake time. Returns the
 * fake times (ms, to 10 ms) at which an INIT left, and the RTO (s) in force after each send.
 */
async function unansweredInit(
  patched: boolean,
  ms: number,
  before?: (sctp: Association) => void,
): Promise<{ sentAt: number[]; rto: number[] }> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
  vi.setSystemTime(0);
  const pc = new RTCPeerConnection({ iceServers: [] });
  open.push(pc);
  if (patched) installWeriftPatches(pc, { logger: silentLogger(), only: ['sctp-init-rto'] });
  pc.createDataChannel('init-rto');
  const sctp = (pc as unknown as { sctpTransport: { sctp: Association } }).sctpTransport.sctp;
  // the patch applies when the connection starts connecting, before the association starts
  pc.connectionStateChange.execute('connecting');
  expect(activeWeriftPatches(pc)).toEqual(patched ? ['sctp-init-rto'] : []);
  before?.(sctp);
  const sentAt: number[] = [];
  const rto: number[] = [];
  sctp.transport = {
    send: async (packet) => {
      if (firstChunkType(packet) === INIT) {
        // werift resends from a setImmediate after T1 fires, which the fake clock runs 1 ms later
        sentAt.push(Math.round(Date.now() / 10) * 10);
        rto.push(sctp.rto);
      }
    },
  };
  sctp.setRemotePort(5000);
  await sctp.init();
  await vi.advanceTimersByTimeAsync(ms);
  sctp.timer1Cancel();
  return { sentAt, rto };
}

describe('sctp-init-rto on a real werift association whose INITs are all lost', () => {
  it('patched: INIT at 0, then resent after 1, 2, 3, 3 s (T1 backs off 1 → 2 → 3 s and stays)', async () => {
    const r = await unansweredInit(true, 12_500);
    expect(r.sentAt).toEqual([0, 1_000, 3_000, 6_000, 9_000, 12_000]);
    expect(r.rto[0]).toBe(INIT_RTO_SECONDS);
    expect(r.rto).toEqual([1, 2, 3, 3, 3, 3]);
  });

  it('stock werift for comparison: INIT resent every 3 s, no backoff', async () => {
    const r = await unansweredInit(false, 12_500);
    expect(r.sentAt).toEqual([0, 3_000, 6_000, 9_000, 12_000]);
  });

  it('patched, once werift has measured a round trip: its own RTO is left as it is', async () => {
    // an association that already has an srtt (e.g. a restarted one): the wrapper must not double the RTO
    const r = await unansweredInit(true, 7_000, (sctp) => {
      sctp.srtt = 0.05;
      sctp.rto = 1.5;
    });
    expect(r.sentAt).toEqual([0, 1_500, 3_000, 4_500, 6_000]);
    expect(new Set(r.rto)).toEqual(new Set([1.5]));
  });
});
