/**
 * The set-up latency patches (src/webrtc/patches/: ice-connect-on-nomination, dtls-start-now,
 * dtls-flight-retransmit, dtls-no-srtp, sctp-t1-from-ice-rtt) against a live werift: the internals each relies
 * on (these tests fail when werift's internals move), that each is in force and does what it says on a
 * connected pair, and that a lost first DTLS packet (the ClientHello) or first SCTP packet (the INIT) costs one
 * retransmission (the time is printed: docs/PERFORMANCE.md "Transport, part 2" quotes it).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RTCDataChannel, RTCPeerConnection } from 'werift';
import type { Logger } from '../../src/log.ts';
import {
  checkFlightSocket,
  checkFlightSource,
  flightRetransmitState,
} from '../../src/webrtc/patches/dtls-flight-retransmit.ts';
import { checkSrtpTransport, srtpSkipStats } from '../../src/webrtc/patches/dtls-no-srtp.ts';
import {
  checkDtlsStartSocket,
  checkDtlsStartTransport,
  dtlsStartState,
} from '../../src/webrtc/patches/dtls-start-now.ts';
import { checkIceTransport, iceEarlyStats } from '../../src/webrtc/patches/ice-connect-on-nomination.ts';
import {
  activeWeriftPatches,
  installWeriftPatches,
  weriftPatchMismatches,
} from '../../src/webrtc/patches/index.ts';
import {
  checkNominatedRtt,
  MIN_T1_SECONDS,
  t1ForIceRtt,
} from '../../src/webrtc/patches/sctp-t1-from-ice-rtt.ts';

const SETUP_PATCHES = [
  'ice-connect-on-nomination',
  'dtls-start-now',
  'dtls-flight-retransmit',
  'dtls-no-srtp',
  'sctp-t1-from-ice-rtt',
];

const silent: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silent,
};

const open: RTCPeerConnection[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((pc) => pc.close().catch(() => {})));
});

function loopbackPc(patched: boolean): RTCPeerConnection {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    iceFilterCandidatePair: (pair) => pair.remoteCandidate.host === '127.0.0.1',
  });
  if (patched) installWeriftPatches(pc, { logger: silent });
  open.push(pc);
  return pc;
}

const loopbackSdp = (sdp: string): string =>
  sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || l.split(' ')[4] === '127.0.0.1')
    .join('\r\n');

function opened(dc: RTCDataChannel): Promise<void> {
  return new Promise((resolve) => {
    if (dc.readyState === 'open') resolve();
    else dc.stateChanged.subscribe((s) => s === 'open' && resolve());
  });
}

type Internals = {
  iceTransports: { connection: Record<string, unknown> & { send: (data: Buffer) => Promise<void> } }[];
  dtlsTransports: (Record<string, unknown> & { dtls?: Record<string, unknown>; state: string })[];
};
const internals = (pc: RTCPeerConnection): Internals => pc as unknown as Internals;

/** Offer/answer between a (offerer, DTLS server) and b (answerer, DTLS client); `beforeAnswer` sees b first. */
async function connect(
  a: RTCPeerConnection,
  b: RTCPeerConnection,
  beforeConnect?: () => void,
): Promise<{ ab: RTCDataChannel; ba: RTCDataChannel; ms: number }> {
  const ab = a.createDataChannel('bulk', { ordered: true });
  const remote = new Promise<RTCDataChannel>((resolve) => b.onDataChannel.subscribe(resolve));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription({ type: 'offer', sdp: loopbackSdp(a.localDescription?.sdp ?? '') });
  await b.setLocalDescription(await b.createAnswer());
  beforeConnect?.();
  const t0 = performance.now();
  await a.setRemoteDescription({ type: 'answer', sdp: loopbackSdp(b.localDescription?.sdp ?? '') });
  const ba = await remote;
  await Promise.all([opened(ab), opened(ba)]);
  return { ab, ba, ms: performance.now() - t0 };
}

/** Makes `pc` drop the first datagram it sends that `match` selects; resolves the time it was dropped. */
function dropFirst(
  pc: RTCPeerConnection,
  match: (b: Buffer) => boolean,
): { dropped: () => number | undefined } {
  const conn = internals(pc).iceTransports[0]?.connection;
  if (!conn) throw new Error('no ICE connection yet');
  const send = conn.send;
  let at: number | undefined;
  conn.send = (data: Buffer) => {
    if (at === undefined && match(data)) {
      at = performance.now();
      return Promise.resolve();
    }
    return send(data);
  };
  return { dropped: () => at };
}

describe('werift internals the set-up patches rely on (fail when werift changes)', () => {
  it('ICE transport, DTLS transport and socket, SRTP start, flight timer', async () => {
    const a = loopbackPc(false);
    const b = loopbackPc(false);
    let checked = false;
    await connect(a, b, () => {
      // before connecting: what ice-connect-on-nomination, dtls-start-now and dtls-no-srtp hook
      const ia = internals(a);
      expect(ia.iceTransports).toHaveLength(1);
      expect(checkIceTransport(ia.iceTransports[0], 'ice')).toEqual([]);
      expect(checkDtlsStartTransport(ia.dtlsTransports[0], 'dtls')).toEqual([]);
      expect(checkSrtpTransport(ia.dtlsTransports[0], 'dtls')).toEqual([]);
      checked = true;
    });
    expect(checked).toBe(true);
    // the sockets werift created in start(), and the round trip ICE measured on the nominated pair
    for (const pc of [a, b]) {
      expect(checkNominatedRtt(internals(pc).iceTransports[0]?.connection, 'conn')).toEqual([]);
      const socket = internals(pc).dtlsTransports[0]?.dtls;
      expect(checkDtlsStartSocket(socket, 'dtls')).toEqual([]);
      expect(checkFlightSocket(socket, 'dtls')).toEqual([]);
      // werift built SRTP sessions for this data-only connection (what dtls-no-srtp avoids)
      expect(internals(pc).dtlsTransports[0]?.['srtp']).toBeDefined();
    }
    // werift's Flight.transmit, from the installed ESM bundle (no live Flight object is reachable)
    const cjsEntry = createRequire(import.meta.url).resolve('werift'); // …/werift/lib/webrtc/src/index.js
    const bundle = readFileSync(path.join(path.dirname(cjsEntry), '..', '..', 'index.mjs'), 'utf8');
    const flight = bundle.slice(bundle.indexOf('var Flight = class'), bundle.indexOf('var Flight1 = class'));
    expect(flight.length).toBeGreaterThan(100);
    expect(checkFlightSource(flight)).toEqual([]);
  });

  it('the shape checks report a moved internal', () => {
    expect(checkIceTransport({ start: () => {}, connection: {} }, 'ice').length).toBeGreaterThan(0);
    expect(checkDtlsStartTransport({}, 'dtls').length).toBeGreaterThan(0);
    expect(checkDtlsStartSocket({ cipher: { sessionType: 1 } }, 'dtls').length).toBeGreaterThan(0);
    expect(checkFlightSocket({ connected: false }, 'dtls').length).toBeGreaterThan(0);
    expect(checkFlightSource('async transmit(buffers) { await sleep(100); }').length).toBe(2);
    expect(checkSrtpTransport({ srtpProfiles: [] }, 'dtls').length).toBeGreaterThan(0);
    expect(checkNominatedRtt({ nominated: {} }, 'conn').length).toBeGreaterThan(0);
  });

  it('SCTP T1 from the ICE round trip: 3 × RTT within [200 ms, 1 s]', () => {
    expect(t1ForIceRtt(0.0005)).toBe(MIN_T1_SECONDS);
    expect(t1ForIceRtt(0.1)).toBeCloseTo(0.3);
    expect(t1ForIceRtt(0.5)).toBe(1);
    expect(t1ForIceRtt(undefined)).toBe(1);
  });
});

describe('set-up patches on a connected pair', () => {
  it('are in force on both sides and do what they say', async () => {
    const earlyBefore = iceEarlyStats.early;
    const skippedBefore = srtpSkipStats.skipped;
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    await connect(a, b);
    for (const pc of [a, b]) {
      expect(activeWeriftPatches(pc)).toEqual(expect.arrayContaining(SETUP_PATCHES));
      expect(weriftPatchMismatches(pc).size).toBe(0);
      expect(internals(pc).dtlsTransports[0]?.['srtp']).toBeUndefined();
    }
    expect(iceEarlyStats.early - earlyBefore).toBeGreaterThanOrEqual(1);
    expect(srtpSkipStats.skipped - skippedBefore).toBe(2);
    // b answered: it is the DTLS client, which sent its ClientHello without werift's 100 ms sleep
    expect(dtlsStartState(internals(b).dtlsTransports[0])?.startedAtOnce).toBe(true);
    expect(dtlsStartState(internals(a).dtlsTransports[0])?.startedAtOnce).toBe(false);
  });

  it('patched ↔ stock in both roles still connects', async () => {
    for (const [pa, pb] of [
      [true, false],
      [false, true],
    ] as const) {
      const a = loopbackPc(pa);
      const b = loopbackPc(pb);
      const { ab, ba } = await connect(a, b);
      const got = new Promise<string>((resolve) => ba.onMessage.subscribe((m) => resolve(String(m))));
      ab.send(Buffer.from('hello'));
      expect(await got).toBe('hello');
    }
  });

  it('a lost ClientHello costs one short retransmission, not werift 500 ms', async () => {
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    let drop: { dropped: () => number | undefined } | undefined;
    const clientHello = (d: Buffer): boolean => d[0] === 22 && d[13] === 1;
    const { ms } = await connect(a, b, () => {
      drop = dropFirst(b, clientHello);
    });
    expect(drop?.dropped()).toBeDefined();
    const socket = internals(b).dtlsTransports[0]?.dtls;
    const state = flightRetransmitState(socket);
    expect(state?.resent).toBeGreaterThanOrEqual(1);
    console.log(
      `lost ClientHello: data channel open ${ms.toFixed(0)} ms after the answer (resends ${state?.resent})`,
    );
  });

  it('a lost SCTP INIT costs one T1 retransmission of max(200 ms, 3 × ICE RTT), not 1 s', async () => {
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    let drop: { dropped: () => number | undefined } | undefined;
    // The offerer's first application-data record after the handshake is the SCTP INIT.
    const appData = (d: Buffer): boolean => d[0] === 23;
    const { ms } = await connect(a, b, () => {
      drop = dropFirst(a, appData);
    });
    expect(drop?.dropped()).toBeDefined();
    expect(activeWeriftPatches(a)).toContain('sctp-t1-from-ice-rtt');
    const rtt = Number(
      (internals(a).iceTransports[0]?.connection['nominated'] as { rtt?: number } | undefined)?.rtt,
    );
    expect(ms).toBeGreaterThan(t1ForIceRtt(rtt) * 1000 - 5);
    console.log(
      `lost SCTP INIT: data channel open ${ms.toFixed(0)} ms after the answer (T1 ${(t1ForIceRtt(rtt) * 1000).toFixed(0)} ms)`,
    );
  });
});
