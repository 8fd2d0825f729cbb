/**
 * Patch `dtls-certificate`: the connection uses the process's certificate from src/webrtc/certificate.ts
 * (ECDSA P-256, made in OpenSSL in ≈ 1 ms, rotated weekly) instead of the one werift makes on the first offer
 * or answer of a process with WebCrypto and @peculiar/x509 in JavaScript (35–130 ms on a cold process,
 * measured; docs/PERFORMANCE.md "Transport, part 2").
 *
 * How: werift's `SecureTransportManager` (`pc.secureManager`) takes its `certificate` when the configuration
 * brings one and otherwise generates werift's own in `ensureCerts()` (called by createOffer/createAnswer) only
 * while `certificate` is unset. We set it right after construction, unless the caller configured one. The
 * handshake is werift's, with our certificate and key; the SDP carries its fingerprint.
 */
import type { RTCPeerConnection } from 'werift';
import { dtlsCertificate } from '../certificate.ts';
import type { PatchContext, WeriftPatch } from './index.ts';
import { expectFunction } from './internals.ts';

const NAME = 'dtls-certificate';

/** Mismatches between werift's SecureTransportManager and what this patch expects. */
export function checkSecureManager(manager: unknown, where = 'pc.secureManager'): string[] {
  if (manager === null || typeof manager !== 'object') return [`${where} is missing`];
  const problems: string[] = [];
  if (!Object.hasOwn(manager, 'certificate')) problems.push(`${where}.certificate is not a field`);
  expectFunction(problems, manager, where, 'ensureCerts', 0);
  const source = String((manager as { ensureCerts?: unknown }).ensureCerts ?? '');
  if (!/if\s*\(\s*!this\.certificate\s*\)/.test(source)) {
    problems.push(`${where}.ensureCerts no longer keeps a certificate that is already set`);
  }
  return problems;
}

export const dtlsCertificatePatch: WeriftPatch = {
  name: NAME,
  description: "the process's DTLS certificate made in OpenSSL (werift makes its own in JavaScript)",
  install(pc: RTCPeerConnection, ctx: PatchContext) {
    const manager = (pc as unknown as { secureManager?: { certificate?: unknown } }).secureManager;
    const problems = checkSecureManager(manager);
    if (problems.length > 0) {
      ctx.shapeMismatch(NAME, problems);
      return;
    }
    if (!manager || manager.certificate !== undefined) return; // the caller's own certificate
    manager.certificate = dtlsCertificate().werift;
    ctx.markActive(NAME);
  },
  warmUp() {
    dtlsCertificate();
  },
};
