/**
 * The DTLS certificate of our peer connections: one ECDSA P-256 self-signed certificate per process, made by
 * node:crypto (key pair and signature in OpenSSL, the X.509 DER written here, ≈ 1 ms), reused by every
 * connection until it is rotated. WebRTC authenticates the certificate by the fingerprint in the SDP, not by
 * a chain, so one certificate for many connections is what browsers do too (one per RTCPeerConnection
 * unless the page passes its own; Chromium's are valid 30 days).
 *
 * werift 0.25.2 also keeps one certificate per process, but makes it on the first offer or answer with
 * WebCrypto plus @peculiar/x509 in JavaScript: 35–130 ms on the first tube of a process (measured, Node 24),
 * and its notAfter is 10 years. Ours: valid from one day back (clock skew) for 30 days, replaced by a fresh one
 * for new connections after 7 days (`dtlsCertificate()`), or at once with `rotateDtlsCertificate()`; live
 * connections keep the one they were set up with.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { RTCCertificate, RTCDtlsFingerprint } from 'werift';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Validity of a certificate (from one day before it was made). */
export const CERTIFICATE_VALID_DAYS = 30;
/** A certificate older than this is replaced for new connections. */
export const CERTIFICATE_ROTATE_DAYS = 7;
/** werift's SignatureHash for ECDSA with SHA-256 (HashAlgorithm.sha256 = 4, SignatureAlgorithm.ecdsa = 3). */
const ECDSA_SHA256 = { hash: 4, signature: 3 } as const;

export interface DtlsCertificate {
  /** PEM of the X.509 certificate and of the PKCS#8 private key. */
  readonly certPem: string;
  readonly keyPem: string;
  /** DER of the certificate. */
  readonly der: Buffer;
  /** `sha-256` fingerprint as in SDP (`AB:CD:…`). */
  readonly fingerprint: string;
  readonly createdAt: number;
  /** werift's certificate object, for RTCPeerConnection. */
  readonly werift: RTCCertificate;
}

// ---- a minimal DER writer ------------------------------------------------------------------------------

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
/** ecdsa-with-SHA256, 1.2.840.10045.4.3.2 (no parameters, RFC 5758). */
const ECDSA_WITH_SHA256 = seq(Buffer.from('06082a8648ce3d040302', 'hex'));
/** Name: CN=WebRTC (as Chromium names its certificates). */
const NAME = seq(tlv(0x31, seq(Buffer.from('0603550403', 'hex'), tlv(0x0c, Buffer.from('WebRTC')))));

function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString(); // 2026-12-01T05:00:00.000Z
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = Number(iso.slice(0, 4));
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2))) : tlv(0x18, Buffer.from(digits));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** sha-256 fingerprint as werift writes it into SDP: upper-case hex pairs joined by `:`. */
export function sha256Fingerprint(der: Buffer): string {
  const hex = createHash('sha256').update(der).digest('hex').toUpperCase();
  return (hex.match(/.{2}/g) ?? []).join(':');
}

/** A fresh self-signed ECDSA P-256 certificate, in OpenSSL (no JavaScript crypto). */
export function createDtlsCertificate(now = Date.now()): DtlsCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(8);
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40; // positive, minimal encoding
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    ECDSA_WITH_SHA256,
    NAME,
    seq(time(now - DAY_MS), time(now + CERTIFICATE_VALID_DAYS * DAY_MS)),
    NAME,
    publicKey.export({ format: 'der', type: 'spki' }),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const der = seq(tbs, ECDSA_WITH_SHA256, tlv(0x03, Buffer.from([0]), signature));
  const certPem = pem('CERTIFICATE', der);
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const fingerprint = sha256Fingerprint(der);
  const werift = new RTCCertificate(keyPem, certPem, { ...ECDSA_SHA256 });
  // werift re-parses the PEM and hashes it each time it writes an SDP; the value never changes.
  const fingerprints = [new RTCDtlsFingerprint('sha-256', fingerprint)];
  werift.getFingerprints = () => fingerprints;
  return { certPem, keyPem, der, fingerprint, createdAt: now, werift };
}

let current: DtlsCertificate | undefined;

/** The process's certificate for new connections (made on first use, replaced after CERTIFICATE_ROTATE_DAYS). */
export function dtlsCertificate(now = Date.now()): DtlsCertificate {
  if (!current || now - current.createdAt >= CERTIFICATE_ROTATE_DAYS * DAY_MS) {
    current = createDtlsCertificate(now);
  }
  return current;
}

/** Replaces the certificate for connections set up from now on (live ones keep theirs); returns the new one. */
export function rotateDtlsCertificate(): DtlsCertificate {
  current = createDtlsCertificate();
  return current;
}
