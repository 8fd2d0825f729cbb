/**
 * Patch `dtls-native-x25519`: the DTLS ECDHE key exchange on X25519 (the curve werift and browsers negotiate
 * first) runs in node:crypto (OpenSSL) instead of tweetnacl's JavaScript.
 *
 * Why (werift 0.25.2): each handshake does four X25519 scalar multiplications, the key pair of each side
 * (`nacl.box.keyPair()`) and the pre-master secret of each side (`nacl.scalarMult(priv, pub)`), all in
 * tweetnacl. On Node 24 the first key pair of a process takes ≈ 35 ms (interpreted, then compiled) and a warm
 * one ≈ 1.5–6 ms; OpenSSL does one in ≈ 0.1–0.2 ms (≈ 1 ms for the very first). Figures in docs/PERFORMANCE.md
 * "Transport, part 2".
 *
 * How: werift's ESM bundle calls `nacl.box.keyPair()` and `nacl.scalarMult(…)` on tweetnacl's module object,
 * which is shared (a CommonJS module, loaded once per process from werift's own resolution path). Those two
 * properties are replaced, once per process, by functions that return the same bytes computed natively. That
 * is process-wide, unlike the other patches (a stock werift connection in the same process gets the native
 * arithmetic too), which is harmless because the results are bit for bit those of tweetnacl:
 * - `keyPair()`: an OpenSSL X25519 key pair (a random secret, its public key X25519(secret, 9); tweetnacl: the
 *   same from crypto.randomBytes, OpenSSL stores the secret already clamped, which X25519 does to it anyway),
 *   each in a Uint8Array over its own 32-byte ArrayBuffer (werift reads `.buffer`);
 * - `scalarMult(n, p)`: X25519(n, p) (RFC 7748: both clamp the scalar and mask the top bit of p);
 * - anything off the common path is handed to tweetnacl itself: inputs that are not two 32-byte Uint8Arrays
 *   (tweetnacl throws its own error) and a result OpenSSL refuses to produce (the all-zero shared secret of a
 *   low-order point, which tweetnacl returns).
 * A self-test of the native functions on RFC 7748's vectors runs before the replacement; any difference leaves
 * tweetnacl in place and reports a mismatch.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { createRequire } from 'node:module';
import type { RTCPeerConnection } from 'werift';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction } from './internals.ts';

const NAME = 'dtls-native-x25519';

/** DER prefix of a PKCS#8 X25519 private key (RFC 8410); the 32 bytes of the key follow. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

type ScalarMult = ((n: Uint8Array, p: Uint8Array) => Uint8Array) & {
  base(n: Uint8Array): Uint8Array;
};

/** The parts of tweetnacl werift's DTLS code calls. */
export interface NaclShape {
  box: { keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } };
  scalarMult: ScalarMult;
}

function privateKeyOf(secret: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' });
}

function publicKeyOf(point: Uint8Array): KeyObject {
  const x = Buffer.from(point.buffer, point.byteOffset, point.byteLength).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
}

/** A copy of `bytes` in a Uint8Array over its own ArrayBuffer (as tweetnacl returns them). */
function own(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  out.set(bytes);
  return out;
}

/**
 * Private keys of the pairs `nativeKeyPair` made, by the secret key's ArrayBuffer (werift wraps that buffer
 * in a Buffer and hands it back to scalarMult): no re-import of the private key on the common path.
 */
const generated = new WeakMap<ArrayBufferLike, { key: KeyObject; secret: Buffer }>();

/** A fresh X25519 key pair from OpenSSL, as tweetnacl's `box.keyPair()` returns one. */
export function nativeKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const secretKey = own(Buffer.from(jwk.d ?? '', 'base64url'));
  const publicKey = own(Buffer.from(jwk.x ?? '', 'base64url'));
  // the copy kept for the connection's lifetime has its own ArrayBuffer: a pooled slice would pin a 64 KiB slab
  const secret = own(secretKey);
  generated.set(secretKey.buffer, { key: privateKey, secret: Buffer.from(secret.buffer, 0, 32) });
  return { publicKey, secretKey };
}

/** X25519(secret, 9): the public key of `secret`, natively. */
export function x25519Public(secret: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyOf(secret)).export({ format: 'der', type: 'spki' });
  return own(spki.subarray(spki.length - 32));
}

/** X25519(secret, point) natively; undefined when OpenSSL refuses (all-zero result of a low-order point). */
export function x25519Shared(secret: Uint8Array, point: Uint8Array): Uint8Array | undefined {
  try {
    const known = generated.get(secret.buffer);
    const privateKey =
      known && secret.byteLength === 32 && known.secret.equals(secret) ? known.key : privateKeyOf(secret);
    return own(diffieHellman({ privateKey, publicKey: publicKeyOf(point) }));
  } catch {
    return undefined;
  }
}

/** tweetnacl as werift's bundle imports it (resolved from werift's own location), or undefined. */
export function weriftNacl(): unknown {
  try {
    const require = createRequire(import.meta.url);
    return createRequire(require.resolve('werift'))('tweetnacl');
  } catch {
    return undefined;
  }
}

/** Mismatches between `nacl` and the tweetnacl this patch replaces parts of. */
export function checkNacl(nacl: unknown, where = 'tweetnacl'): string[] {
  if (nacl === null || typeof nacl !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  expectFunction(problems, (nacl as { box?: unknown }).box, `${where}.box`, 'keyPair', 0);
  expectFunction(problems, nacl, where, 'scalarMult', 2);
  const base = (nacl as { scalarMult?: { base?: unknown } }).scalarMult?.base;
  if (typeof base !== 'function') problems.push(`${where}.scalarMult.base is not a function`);
  return problems;
}

const b64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64url');
/** RFC 7748 §6.1: Alice's key pair, Bob's public key, their shared secret. */
const ALICE_PRIVATE = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const ALICE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

/**
 * Checks the native path against RFC 7748 §6.1 (tweetnacl itself is not called here: its first call is the
 * cost this patch removes; test/interop/werift-setup-patches.test.ts compares both on random keys).
 */
export function selfTest(): string[] {
  const problems: string[] = [];
  try {
    const alice = createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: b64(ALICE_PRIVATE), x: b64(ALICE_PUBLIC) },
      format: 'jwk',
    });
    if (createPublicKey(alice).export({ format: 'jwk' }).x !== b64(ALICE_PUBLIC)) {
      problems.push('native X25519 public key differs from RFC 7748 §6.1');
    }
    const shared = diffieHellman({
      privateKey: alice,
      publicKey: publicKeyOf(Buffer.from(BOB_PUBLIC, 'hex')),
    });
    if (shared.toString('hex') !== SHARED)
      problems.push('native X25519 shared secret differs from RFC 7748 §6.1');
    const pair = nativeKeyPair();
    if (pair.secretKey.buffer.byteLength !== 32 || pair.publicKey.buffer.byteLength !== 32) {
      problems.push('native key pair is not two 32-byte buffers');
    }
  } catch (err) {
    problems.push(`native X25519 unavailable: ${(err as Error).message}`);
  }
  return problems;
}

/** Process-wide state: undefined = not tried yet; [] = installed; otherwise why not. */
let outcome: string[] | undefined;
/** Calls that went native (tests and diagnostics). */
export const nativeX25519Stats = { keyPairs: 0, sharedSecrets: 0, fallbacks: 0 };

/** Replaces tweetnacl's X25519 entry points (once per process); returns the mismatches ([] = in force). */
export function installNativeX25519(nacl: unknown = weriftNacl()): string[] {
  if (outcome !== undefined) return outcome;
  const problems = checkNacl(nacl);
  if (problems.length === 0) problems.push(...selfTest());
  outcome = problems;
  if (problems.length > 0) return problems;
  const lib = nacl as NaclShape;
  const stockScalarMult = lib.scalarMult;
  const scalarMult = function scalarMult(n: Uint8Array, p: Uint8Array): Uint8Array {
    if (n instanceof Uint8Array && p instanceof Uint8Array && n.length === 32 && p.length === 32) {
      const out = x25519Shared(n, p);
      if (out) {
        nativeX25519Stats.sharedSecrets++;
        return out;
      }
    }
    nativeX25519Stats.fallbacks++;
    return stockScalarMult(n, p);
  } as ScalarMult;
  // tweetnacl hangs `base`, `scalarLength` and `groupElementLength` on the function: keep them.
  for (const key of Object.keys(stockScalarMult)) {
    (scalarMult as unknown as Record<string, unknown>)[key] = (
      stockScalarMult as unknown as Record<string, unknown>
    )[key];
  }
  lib.scalarMult = scalarMult;
  lib.box.keyPair = function keyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
    nativeX25519Stats.keyPairs++;
    return nativeKeyPair();
  };
  return outcome;
}

export const dtlsNativeX25519Patch: WeriftPatch = {
  name: NAME,
  description: "X25519 key exchange in node:crypto instead of tweetnacl's JavaScript (same bytes)",
  install(_pc: RTCPeerConnection, ctx: PatchContext) {
    const problems = installNativeX25519();
    if (problems.length > 0) ctx.shapeMismatch(NAME, problems);
    else ctx.markActive(NAME);
  },
  warmUp() {
    installNativeX25519();
  },
};
