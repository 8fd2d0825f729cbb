/**
 * The set-up latency patches (src/webrtc/patches/: ice-connect-on-nomination, dtls-start-now,
 * dtls-flight-retransmit, dtls-no-srtp, sctp-t1-from-ice-rtt, dtls-native-x25519, dtls-certificate) against a
 * live werift: the internals each relies
 * on (these tests fail when werift's internals move), that each is in force and does what it says on a
 * connected pair, and that a lost first DTLS packet (the ClientHello) or first SCTP packet (the INIT) costs one
 * retransmission (the time is printed: docs/PERFORMANCE.md "Transport, part 2" quotes it).
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RTCPeerConnection } from 'werift';
import {
  CERTIFICATE_ROTATE_DAYS,
  CERTIFICATE_VALID_DAYS,
  dtlsCertificate,
  rotateDtlsCertificate,
} from '../../src/webrtc/certificate.ts';
import { checkSecureManager } from '../../src/webrtc/patches/dtls-certificate.ts';
import {
  checkFlightSocket,
  checkFlightSource,
  flightRetransmitState,
} from '../../src/webrtc/patches/dtls-flight-retransmit.ts';
import {
  checkNacl,
  installNativeX25519,
  nativeKeyPair,
  nativeX25519Stats,
  weriftNacl,
  x25519Public,
  x25519Shared,
} from '../../src/webrtc/patches/dtls-native-x25519.ts';
import { checkSrtpTransport, srtpSkipStats } from '../../src/webrtc/patches/dtls-no-srtp.ts';
import {
  checkDtlsStartSocket,
  checkDtlsStartTransport,
  dtlsStartState,
} from '../../src/webrtc/patches/dtls-start-now.ts';
import { checkIceTransport, iceEarlyStats } from '../../src/webrtc/patches/ice-connect-on-nomination.ts';
import {
  activeWeriftPatches,
  warmUpWeriftPatches,
  weriftPatchMismatches,
} from '../../src/webrtc/patches/index.ts';
import {
  checkNominatedRtt,
  MIN_T1_SECONDS,
  t1ForIceRtt,
} from '../../src/webrtc/patches/sctp-t1-from-ice-rtt.ts';
import { closeLoopback, connectLoopback, loopbackPc } from '../helpers/werift-loopback.ts';

const SETUP_PATCHES = [
  'ice-connect-on-nomination',
  'dtls-start-now',
  'dtls-flight-retransmit',
  'dtls-no-srtp',
  'sctp-t1-from-ice-rtt',
  'dtls-native-x25519',
  'dtls-certificate',
];

afterEach(closeLoopback);

type Internals = {
  iceTransports: { connection: Record<string, unknown> & { send: (data: Buffer) => Promise<void> } }[];
  dtlsTransports: (Record<string, unknown> & { dtls?: Record<string, unknown>; state: string })[];
};
const internals = (pc: RTCPeerConnection): Internals => pc as unknown as Internals;

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
    await connectLoopback(a, b, {
      beforeAnswer: () => {
        // before connecting: what ice-connect-on-nomination, dtls-start-now and dtls-no-srtp hook
        const ia = internals(a);
        expect(ia.iceTransports).toHaveLength(1);
        expect(checkIceTransport(ia.iceTransports[0], 'ice')).toEqual([]);
        expect(checkDtlsStartTransport(ia.dtlsTransports[0], 'dtls')).toEqual([]);
        expect(checkSrtpTransport(ia.dtlsTransports[0], 'dtls')).toEqual([]);
        expect(checkSecureManager((a as unknown as { secureManager: unknown }).secureManager)).toEqual([]);
        checked = true;
      },
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
    expect(checkNacl({ box: {}, scalarMult: () => {} }).length).toBeGreaterThan(0);
    expect(checkSecureManager({ ensureCerts: async () => {} }).length).toBeGreaterThan(0);
  });

  it('tweetnacl, as werift imports it, has what dtls-native-x25519 replaces', () => {
    expect(checkNacl(weriftNacl())).toEqual([]);
  });

  it('the warm-up at registry construction prepares the certificate and native X25519', () => {
    expect(warmUpWeriftPatches()).toEqual(['dtls-native-x25519', 'dtls-certificate']);
    expect(installNativeX25519()).toEqual([]);
  });

  it('SCTP T1 from the ICE round trip: 3 × RTT within [200 ms, 1 s]', () => {
    expect(t1ForIceRtt(0.0005)).toBe(MIN_T1_SECONDS);
    expect(t1ForIceRtt(0.1)).toBeCloseTo(0.3);
    expect(t1ForIceRtt(0.5)).toBe(1);
    expect(t1ForIceRtt(undefined)).toBe(1);
  });
});

/** tweetnacl's own X25519 (its `lowlevel` functions, which the patch does not replace). */
function tweetnaclX25519(n: Uint8Array, p?: Uint8Array): Buffer {
  const low = (weriftNacl() as { lowlevel: Record<string, (...a: Uint8Array[]) => number> }).lowlevel;
  const q = new Uint8Array(32);
  if (p) low['crypto_scalarmult']?.(q, n, p);
  else low['crypto_scalarmult_base']?.(q, n);
  return Buffer.from(q);
}

describe('dtls-native-x25519: the same bytes as tweetnacl', () => {
  it('public keys and shared secrets on random inputs', () => {
    for (let i = 0; i < 64; i++) {
      const n = randomBytes(32);
      const p = randomBytes(32); // any u-coordinate, top bit set half of the time (both mask it)
      expect(Buffer.from(x25519Public(n))).toEqual(tweetnaclX25519(n));
      expect(Buffer.from(x25519Shared(n, p) ?? [])).toEqual(tweetnaclX25519(n, p));
    }
  });

  it('the replaced tweetnacl entry points, called as werift calls them', () => {
    expect(installNativeX25519()).toEqual([]);
    const nacl = weriftNacl() as {
      box: { keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } };
      scalarMult: (n: Uint8Array, p: Uint8Array) => Uint8Array;
    };
    const before = { ...nativeX25519Stats };
    const a = nacl.box.keyPair();
    const b = nacl.box.keyPair();
    // werift: Buffer.from(keys.secretKey.buffer), Buffer.from(keys.publicKey.buffer)
    expect(a.secretKey.buffer.byteLength).toBe(32);
    expect(a.publicKey.buffer.byteLength).toBe(32);
    const aSecret = Buffer.from(a.secretKey.buffer);
    const bPublic = Buffer.from(b.publicKey.buffer);
    expect(Buffer.from(a.publicKey)).toEqual(tweetnaclX25519(a.secretKey));
    const ab = Buffer.from(nacl.scalarMult(aSecret, bPublic));
    expect(ab).toEqual(tweetnaclX25519(aSecret, bPublic));
    expect(ab).toEqual(
      Buffer.from(nacl.scalarMult(Buffer.from(b.secretKey.buffer), Buffer.from(a.publicKey))),
    );
    expect(nativeX25519Stats.keyPairs - before.keyPairs).toBe(2);
    expect(nativeX25519Stats.sharedSecrets - before.sharedSecrets).toBe(2);
    // off the common path tweetnacl answers: a low-order point (all-zero secret) and a wrong length
    const zero = nacl.scalarMult(aSecret, new Uint8Array(32));
    expect(Buffer.from(zero)).toEqual(Buffer.alloc(32));
    expect(() => nacl.scalarMult(aSecret, new Uint8Array(31))).toThrow('bad p size');
    expect(nativeX25519Stats.fallbacks - before.fallbacks).toBe(2);
    // a pair made natively is also usable from its bytes alone (no cached key object)
    const c = nativeKeyPair();
    expect(Buffer.from(x25519Shared(Buffer.from(c.secretKey), bPublic) ?? [])).toEqual(
      tweetnaclX25519(c.secretKey, bPublic),
    );
  });
});

describe('dtls-certificate: the process certificate', () => {
  it('is a valid self-signed ECDSA P-256 certificate, rotated after a week', () => {
    const now = Date.now();
    const cert = dtlsCertificate(now);
    const x = new X509Certificate(cert.der);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x.subject).toBe('CN=WebRTC');
    expect(x.fingerprint256).toBe(cert.fingerprint);
    expect(new X509Certificate(cert.certPem).raw).toEqual(cert.der);
    const from = Date.parse(x.validFrom);
    const to = Date.parse(x.validTo);
    expect(from).toBeLessThan(now);
    expect(Math.round((to - from) / 86_400_000)).toBe(CERTIFICATE_VALID_DAYS + 1);
    expect(cert.werift.getFingerprints()[0]?.value).toBe(cert.fingerprint);
    // werift parses it (what every DTLS socket does with it)
    expect(cert.werift.publicKey).toContain('BEGIN PUBLIC KEY');
    expect(dtlsCertificate(now + 1000)).toBe(cert);
    const later = dtlsCertificate(cert.createdAt + CERTIFICATE_ROTATE_DAYS * 86_400_000);
    expect(later.fingerprint).not.toBe(cert.fingerprint);
    const rotated = rotateDtlsCertificate();
    expect(rotated.fingerprint).not.toBe(later.fingerprint);
    expect(dtlsCertificate()).toBe(rotated);
  });

  it('is what a connection offers and what the peer receives', async () => {
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    const before = { ...nativeX25519Stats };
    await connectLoopback(a, b);
    const cert = dtlsCertificate();
    for (const [pc, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      expect(activeWeriftPatches(pc)).toEqual(
        expect.arrayContaining(['dtls-certificate', 'dtls-native-x25519']),
      );
      expect(pc.localDescription?.sdp).toContain(`a=fingerprint:sha-256 ${cert.fingerprint}`);
      const remote = internals(peer).dtlsTransports[0]?.dtls?.['cipher'] as { remoteCertificate?: Buffer };
      expect(Buffer.from(remote.remoteCertificate ?? [])).toEqual(cert.der);
    }
    // two key pairs and two shared secrets per handshake, all native
    expect(nativeX25519Stats.keyPairs - before.keyPairs).toBe(2);
    expect(nativeX25519Stats.sharedSecrets - before.sharedSecrets).toBe(2);
  });
});

describe('set-up patches on a connected pair', () => {
  it('are in force on both sides and do what they say', async () => {
    const earlyBefore = iceEarlyStats.early;
    const skippedBefore = srtpSkipStats.skipped;
    const a = loopbackPc(true);
    const b = loopbackPc(true);
    await connectLoopback(a, b);
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
      const { ab, ba } = await connectLoopback(a, b);
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
    const { ms } = await connectLoopback(a, b, {
      beforeAnswer: () => {
        drop = dropFirst(b, clientHello);
      },
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
    const { ms } = await connectLoopback(a, b, {
      beforeAnswer: () => {
        drop = dropFirst(a, appData);
      },
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
