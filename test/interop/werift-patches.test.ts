/**
 * The werift patches (src/webrtc/patches/) against a live werift: the exact internal paths, method names and
 * arity they rely on (these tests fail when werift's internals move), the version guard, that every patch is
 * in force after connecting, and that data still flows byte-exact between patched and stock peers.
 */
import { KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { RTCDataChannel, RTCPeerConnection } from 'werift';
import type { Logger } from '../../src/log.ts';
import { crc32c } from '../../src/webrtc/patches/crc32c.ts';
import { checkAeadCipher } from '../../src/webrtc/patches/dtls-keyobject.ts';
import { checkDtlsSocket } from '../../src/webrtc/patches/dtls-record.ts';
import { checkIceTransport, recheckFailedPairs } from '../../src/webrtc/patches/ice-recheck.ts';
import {
  activeWeriftPatches,
  installedWeriftVersion,
  installWeriftPatches,
  PINNED_WERIFT_VERSION,
  WERIFT_PATCHES,
  weriftPatchMismatches,
} from '../../src/webrtc/patches/index.ts';
import { checkSctpReceiver } from '../../src/webrtc/patches/sctp-data-receive.ts';
import { checkSctpCongestion, sctpPathRecovered } from '../../src/webrtc/patches/sctp-path-reset.ts';
import { checkSctp } from '../../src/webrtc/patches/sctp-sack.ts';
import { checkSctpSender, SharedFlush } from '../../src/webrtc/patches/sctp-transmit.ts';
import { resetVersionGuardForTests } from '../../src/webrtc/patches/version.ts';
import type { Peer } from '../../src/webrtc/peer.ts';
import {
  closeLoopback,
  connectLoopback,
  loopbackPc,
  loopbackPeer,
  offerAnswer,
  transfer,
} from '../helpers/werift-loopback.ts';

const OURS = [
  'sctp-plpmtud',
  'dtls-keyobject',
  'dtls-record',
  'sctp-sack',
  'sctp-transmit',
  'sctp-data-receive',
  'ice-recheck',
  'sctp-path-reset',
];

interface Captured {
  level: string;
  obj: object;
  msg: string | undefined;
}

function captureLogger(lines: Captured[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

/** werift 0.25.2's delayed-SACK timer (SCTP_SACK_DELAY_MS in werift's sctp.ts). */
const SACK_DELAY_MS = 200;

interface SentQueueHolder {
  sentQueue: unknown[];
}

function sctpOf(pc: RTCPeerConnection): SentQueueHolder {
  return (pc as unknown as { sctpTransport: { sctp: SentQueueHolder } }).sctpTransport.sctp;
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * `rounds` pings a → b, each echoed b → a. For each message: ms from its arrival at the receiver until the
 * sender's SCTP sent queue is empty (the receiver's SACK arrived), polled every event-loop turn.
 */
async function pingAckDelays(
  ab: RTCDataChannel,
  ba: RTCDataChannel,
  a: SentQueueHolder,
  b: SentQueueHolder,
  rounds: number,
): Promise<{ ab: number[]; ba: number[] }> {
  const out = { ab: [] as number[], ba: [] as number[] };
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  for (let i = 0; i < rounds; i++) {
    for (let t = performance.now(); a.sentQueue.length + b.sentQueue.length > 0; await turn()) {
      if (performance.now() - t > 5_000) throw new Error('sent queues never emptied');
    }
    let atB = 0;
    let atA = 0;
    const s = ba.onMessage.subscribe((m) => {
      atB = performance.now();
      s.unSubscribe();
      ba.send(m as Buffer);
    });
    const r = ab.onMessage.subscribe(() => {
      atA = performance.now();
      r.unSubscribe();
    });
    ab.send(Buffer.from(`ping ${i}`));
    let ackedAtA = 0; // a's ping acknowledged by b
    let ackedAtB = 0; // b's echo acknowledged by a
    const start = performance.now();
    while (ackedAtA === 0 || ackedAtB === 0) {
      await turn();
      const now = performance.now();
      if (now - start > 5_000) throw new Error(`round ${i}: no echo or no SACK within 5 s`);
      if (ackedAtA === 0 && atB > 0 && a.sentQueue.length === 0) ackedAtA = now;
      if (ackedAtB === 0 && atA > 0 && b.sentQueue.length === 0) ackedAtB = now;
    }
    out.ab.push(ackedAtA - atB);
    out.ba.push(ackedAtB - atA);
  }
  return out;
}

afterEach(async () => {
  await closeLoopback();
  resetVersionGuardForTests();
});

describe('werift internals the patches rely on (fail when werift changes)', () => {
  it('werift is the pinned version', () => {
    expect(PINNED_WERIFT_VERSION).toBe('0.25.2');
    expect(installedWeriftVersion()).toBe(PINNED_WERIFT_VERSION);
  });

  it('exact paths, method names and arity on a connected stock pair', async () => {
    const a = loopbackPc(false);
    const b = loopbackPc(false);
    await connectLoopback(a, b);
    for (const pc of [a, b]) {
      const internals = pc as unknown as {
        dtlsTransports: {
          state: string;
          dtls: Record<string, unknown> & {
            cipher: Record<string, unknown> & { cipher: Record<string, unknown> };
            dtls: Record<string, unknown>;
            transport: { socket: { onData: unknown } };
          };
        }[];
        sctpTransport: { sctp: Record<string, unknown> };
      };
      expect(internals.dtlsTransports).toHaveLength(1);
      const t = internals.dtlsTransports[0];
      expect(t?.state).toBe('connected');
      const socket = t?.dtls;
      // pc.dtlsTransports[0].dtls: DtlsSocket (send and udpOnMessage are per-instance arrow functions)
      expect(checkDtlsSocket(socket, 'dtls')).toEqual([]);
      expect(Object.hasOwn(socket ?? {}, 'send')).toBe(true);
      expect((socket?.send as (() => void) | undefined)?.length).toBe(2);
      expect(socket?.transport.socket.onData).toBe(socket?.udpOnMessage);
      expect(socket?.dtls['epoch']).toBe(1);
      // pc.dtlsTransports[0].dtls.cipher.cipher: AEADCipher with raw Buffer keys, AES-GCM
      const cipher = socket?.cipher.cipher;
      expect(checkAeadCipher(cipher, 'cipher')).toEqual([]);
      expect(Buffer.isBuffer(cipher?.['clientWriteKey'])).toBe(true);
      expect(Buffer.isBuffer(cipher?.['serverWriteKey'])).toBe(true);
      expect(cipher?.['blockAlgorithm']).toMatch(/^aes-(128|256)-gcm$/);
      expect([
        cipher?.['nonceImplicitLength'],
        cipher?.['nonceExplicitLength'],
        cipher?.['authTagLength'],
      ]).toEqual([4, 8, 16]);
      expect((cipher?.['encrypt'] as (() => void) | undefined)?.length).toBe(3);
      expect((cipher?.['decrypt'] as (() => void) | undefined)?.length).toBe(3);
      const proto = Object.getPrototypeOf(socket?.cipher) as Record<string, () => void>;
      expect(proto['encryptPacket']?.length).toBe(1);
      expect(proto['decryptPacket']?.length).toBe(1);
      expect([1, 2]).toContain(socket?.cipher['sessionType']);
      // pc.sctpTransport.sctp: the SCTP association
      const sctp = internals.sctpTransport.sctp;
      expect(checkSctp(sctp, 'sctp')).toEqual([]);
      expect(checkSctpSender(sctp, 'sctp')).toEqual([]);
      expect(checkSctpReceiver(sctp, 'sctp')).toEqual([]);
      // werift's inbound stream: a reassembly array of chunks ordered by TSN, a popMessages generator
      const inbound = (sctp['getInboundStream'] as (id: number) => Record<string, unknown>).call(sctp, 4242);
      expect(Array.isArray(inbound['reassembly'])).toBe(true);
      expect(Object.getPrototypeOf(inbound['popMessages']).constructor.name).toBe('GeneratorFunction');
      expect(String(inbound['addChunk'])).toContain('this.reassembly.push(chunk)');
      // handleData parses with a checksum over a concatenation, then receiveChunk per chunk
      expect(String((Object.getPrototypeOf(sctp) as Record<string, unknown>)['handleData'])).toMatch(
        /for \(const chunk of chunks\) \{\s*await this\.receiveChunk\(chunk\);/,
      );
      expect(sctp['mtu']).toBe(1191); // ≤ 1,200-byte SCTP packets by default
      expect(sctp['maxPayloadSize']).toBeLessThanOrEqual(1200 - 28);
      // werift's per-message send waits on `flush` until the outbound queue is empty (SharedFlush relies on it)
      expect(Object.hasOwn(sctp, 'send')).toBe(true);
      expect(String(sctp['send'])).toMatch(
        /while \(this\.outboundQueue\.length\) \{\s*await this\.flush\.asPromise\(\);/,
      );
      expect(typeof (sctp['flush'] as Record<string, unknown>)['execute']).toBe('function');
      // the per-packet immediate SACK that the sctp-sack patch replaces, and the count rule it builds on
      const proto0 = Object.getPrototypeOf(sctp) as Record<string, () => void>;
      expect(String(proto0['receiveDataChunk'])).toContain('this.sackImmediate = true');
      expect(String(proto0['handleData'])).toMatch(/sackPacketCount >= 2/);
      const sctpProto = proto0;
      for (const [name, arity] of [
        ['receiveDataChunk', 1],
        ['scheduleSack', 0],
        ['sendSack', 0],
        ['transmitOnce', 0],
        ['sendChunk', 1],
        ['receiveSackChunk', 1],
      ] as const) {
        expect(typeof sctpProto[name], name).toBe('function');
        expect(sctpProto[name]?.length, name).toBe(arity);
      }
    }
  });

  it('the shape checks report a moved internal', () => {
    expect(checkAeadCipher({ encrypt: (_a: unknown) => {} }, 'c').length).toBeGreaterThan(0);
    expect(checkDtlsSocket({}, 'dtls').length).toBeGreaterThan(0);
    expect(checkSctp({ receiveDataChunk: () => {} }, 'sctp').length).toBeGreaterThan(0);
    expect(checkSctpSender(undefined, 'sctp')).toEqual(['sctp is missing']);
    expect(checkSctpReceiver({ handleData: () => {} }, 'sctp').length).toBeGreaterThan(0);
  });

  it('CRC-32C matches the RFC 3720 check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
  });
});

describe('version guard', () => {
  it('refuses another werift version with one log line and leaves the connection stock', async () => {
    resetVersionGuardForTests('0.99.0');
    const lines: Captured[] = [];
    const logger = captureLogger(lines);
    const a = loopbackPc(true, logger);
    const b = loopbackPc(true, logger);
    expect(installWeriftPatches(a, { logger })).toBe(false);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('werift patches refused');
    expect(warnings[0]?.msg).toContain('0.99.0');
    expect(warnings[0]?.msg).toContain(PINNED_WERIFT_VERSION);
    await connectLoopback(a, b);
    expect(activeWeriftPatches(a)).toEqual([]);
    const cipher = (
      a as unknown as { dtlsTransports: { dtls: { cipher: { cipher: Record<string, unknown> } } }[] }
    ).dtlsTransports[0]?.dtls.cipher.cipher;
    expect(Buffer.isBuffer(cipher?.['clientWriteKey'])).toBe(true);
  });
});

describe('werift internals the resilience code relies on', () => {
  it('ICE transports and the SCTP association have the shape ice-recheck and sctp-path-reset expect', async () => {
    const a = loopbackPc(false);
    const b = loopbackPc(false);
    await connectLoopback(a, b);
    const transports = (a as unknown as { iceTransports: unknown[] }).iceTransports;
    expect(transports.length).toBeGreaterThan(0);
    expect(transports.flatMap((t, i) => checkIceTransport(t, `iceTransports[${i}]`))).toEqual([]);
    const sctp = (a as unknown as { sctpTransport: { sctp: Record<string, unknown> } }).sctpTransport.sctp;
    expect(checkSctpCongestion(sctp, 'sctp')).toEqual([]);
    // Nothing to re-check on a connected transport; stock werift is left alone by sctpPathRecovered.
    expect(recheckFailedPairs(a)).toBe(0);
    expect(sctpPathRecovered(a)).toBe(false);
  });

  it('werift SCTP never gives up during an outage: T3 expiry neither aborts, closes nor backs off the RTO', async () => {
    const a = loopbackPc(false);
    const b = loopbackPc(false);
    await connectLoopback(a, b);
    const sctp = (a as unknown as { sctpTransport: { sctp: Record<string, unknown> } }).sctpTransport.sctp;
    const t3 = String(sctp['timer3Expired']);
    expect(t3).toContain('retransmit');
    for (const word of ['setState', 'abort', 'rto']) expect(t3).not.toContain(word);
  });

  it('sctp-path-reset restores slow start toward the peer window after a blackout collapsed ssthresh', async () => {
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    await connectLoopback(a, b);
    const sctp = (a as unknown as { sctpTransport: { sctp: Record<string, number> } }).sctpTransport.sctp;
    sctp['ssthresh'] = 4 * (sctp['maxPayloadSize'] as number);
    sctp['cwnd'] = sctp['maxPayloadSize'] as number;
    expect(sctpPathRecovered(a)).toBe(true);
    expect(sctp['ssthresh']).toBeGreaterThanOrEqual(sctp['peerRwnd'] as number);
    expect(sctp['cwnd']).toBe(3 * (sctp['maxPayloadSize'] as number));
  });
});

describe('patched werift', () => {
  it('every patch is listed once and is in force on both sides after connecting', async () => {
    const names = WERIFT_PATCHES.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of OURS) expect(names).toContain(n);
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    await connectLoopback(a, b);
    for (const pc of [a, b]) {
      expect(activeWeriftPatches(pc)).toEqual(expect.arrayContaining(OURS));
      expect(weriftPatchMismatches(pc).size).toBe(0);
      const socket = (
        pc as unknown as {
          dtlsTransports: {
            dtls: { cipher: { cipher: Record<string, unknown> }; send: unknown; udpOnMessage: unknown };
          }[];
        }
      ).dtlsTransports[0]?.dtls;
      expect(socket?.cipher.cipher['clientWriteKey']).toBeInstanceOf(KeyObject);
      expect(socket?.cipher.cipher['serverWriteKey']).toBeInstanceOf(KeyObject);
      const sctp = (pc as unknown as { sctpTransport: { sctp: object } }).sctpTransport.sctp;
      for (const m of ['receiveDataChunk', 'scheduleSack', 'transmitOnce', 'sendChunk', 'handleData']) {
        expect(Object.hasOwn(sctp, m), m).toBe(true);
      }
      expect((sctp as { flush: unknown }).flush).toBeInstanceOf(SharedFlush);
    }
  });

  for (const [label, pa, pb] of [
    ['patched → patched', true, true],
    ['patched → stock', true, false],
    ['stock → patched', false, true],
  ] as const) {
    it(`${label}: 8 MiB in 16 KiB and 64 KiB messages arrive byte-exact, and back`, async () => {
      const a = loopbackPc(pa);
      const b = loopbackPc(pb);
      const { ab, ba } = await connectLoopback(a, b);
      for (const size of [16 * 1024, 64 * 1024]) {
        const r = await transfer(ab, ba, 4 * 1024 * 1024, size);
        expect(r.bytes).toBe(4 * 1024 * 1024);
        expect(r.received).toBe(r.sent);
      }
      const back = await transfer(ba, ab, 2 * 1024 * 1024, 1000);
      expect(back.received).toBe(back.sent);
      // Small request/response messages: a lone packet must be acknowledged within the same event-loop turn,
      // not after a 200 ms delayed-SACK timer (werift's SCTP_SACK_DELAY_MS). Measured directly: from the
      // moment the receiver got the message to the moment the sender's SCTP holds no unacknowledged chunk.
      // Both directions, so a patched receiver is measured in every case (patched → stock: the echoes).
      const acks = await pingAckDelays(ab, ba, sctpOf(a), sctpOf(b), 20);
      const ms = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(' ');
      console.log(`[sack] ${label}: a→b acked in ${ms(acks.ab)} ms; b→a in ${ms(acks.ba)} ms`);
      for (const [dir, delays] of Object.entries(acks)) {
        expect(median(delays), `${label} ${dir}: median SACK delay`).toBeLessThan(SACK_DELAY_MS / 2);
        // most rounds well under the timer: a delayed SACK cannot produce even one of these
        expect(delays.filter((d) => d < SACK_DELAY_MS / 2).length, `${label} ${dir}`).toBeGreaterThanOrEqual(
          15,
        );
      }
    });
  }
});

describe('Peer', () => {
  it('installs the patches by default and not with weriftPatches: false', async () => {
    const mk = (weriftPatches: boolean | undefined): Peer => loopbackPeer({ weriftPatches });
    for (const [setting, expected] of [
      [undefined, true],
      [true, true],
      [false, false],
    ] as const) {
      const a = mk(setting);
      const b = mk(setting);
      await offerAnswer(a, b);
      const deadline = Date.now() + 10_000;
      while (
        (a.connectionState !== 'connected' || b.connectionState !== 'connected') &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(a.weriftPatches.length > 0, String(setting)).toBe(expected);
      expect(b.weriftPatches.length > 0, String(setting)).toBe(expected);
      await Promise.all([a.close(), b.close()]);
    }
  });
});
