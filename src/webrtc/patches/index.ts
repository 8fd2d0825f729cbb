/**
 * Version-guarded changes to werift's behaviour, made from outside (no fork, no vendored code): configuration,
 * replaced keys, and our own implementations installed in place of werift methods on live instances.
 *
 * Every patch is listed in `WERIFT_PATCHES` (add new entries there). `installWeriftPatches(pc)` runs each
 * patch's `install` once per RTCPeerConnection, right after it is constructed, but only when the installed
 * werift is the pinned version (otherwise one warning is logged and werift stays stock). A patch verifies the
 * internal shape it relies on before touching anything and reports a mismatch instead of patching.
 * Patches act per instance: a registry with `weriftPatches: false` gets stock werift in the same process.
 */
import type { RTCPeerConnection } from 'werift';
import type { Logger } from '../../log.ts';
import { dtlsCertificatePatch } from './dtls-certificate.ts';
import { dtlsFlightRetransmitPatch } from './dtls-flight-retransmit.ts';
import { dtlsHandshakeOrderPatch } from './dtls-handshake-order.ts';
import { dtlsKeyObjectPatch } from './dtls-keyobject.ts';
import { dtlsNativeX25519Patch } from './dtls-native-x25519.ts';
import { dtlsNoSrtpPatch } from './dtls-no-srtp.ts';
import { dtlsRecordPatch } from './dtls-record.ts';
import { dtlsStartNowPatch } from './dtls-start-now.ts';
import { eventSyncExecutePatch } from './event-sync-execute.ts';
import { iceConnectOnNominationPatch } from './ice-connect-on-nomination.ts';
import { iceRecheckPatch } from './ice-recheck.ts';
import { iceRequestIdsBoundedPatch } from './ice-request-ids-bounded.ts';
import { sctpDataReceivePatch } from './sctp-data-receive.ts';
import { sctpInitRtoPatch } from './sctp-init-rto.ts';
import { sctpPathResetPatch } from './sctp-path-reset.ts';
import { sctpPlpmtudPatch } from './sctp-plpmtud.ts';
import { sctpSackPatch } from './sctp-sack.ts';
import { sctpSackBuildPatch } from './sctp-sack-build.ts';
import { sctpT1FromIceRttPatch } from './sctp-t1-from-ice-rtt.ts';
import { sctpTransmitPatch } from './sctp-transmit.ts';
import { stunSerializePatch } from './stun-serialize.ts';
import { installedWeriftVersion, PINNED_WERIFT_VERSION, weriftVersionAccepted } from './version.ts';

export { installedWeriftVersion, PINNED_WERIFT_VERSION } from './version.ts';

export interface PatchContext {
  readonly logger: Logger;
  /**
   * Runs `fn` each time the peer connection reaches `connected` (DTLS and ICE up; at once if it already is).
   * `fn` must be idempotent.
   */
  whenConnected(fn: () => void): void;
  /** Records that the patch is now in force on this connection. */
  markActive(name: string): void;
  /** Reports that werift's internals do not look as the patch expects; the patch must then change nothing. */
  shapeMismatch(name: string, problems: string[]): void;
}

export interface WeriftPatch {
  readonly name: string;
  readonly description: string;
  /** Called once per RTCPeerConnection right after construction. */
  install(pc: RTCPeerConnection, ctx: PatchContext): void;
  /**
   * Optional process-wide preparation that the first connection would otherwise do on its set-up path (see
   * `warmUpWeriftPatches`); must be idempotent and harmless when the patch later reports a shape mismatch.
   */
  warmUp?(): void;
}

/** Every patch, in installation order. */
export const WERIFT_PATCHES: readonly WeriftPatch[] = [
  dtlsHandshakeOrderPatch,
  dtlsKeyObjectPatch,
  dtlsRecordPatch,
  sctpSackPatch,
  sctpTransmitPatch,
  sctpDataReceivePatch,
  sctpPlpmtudPatch, // after sctp-transmit, whose T3 handler it wraps
  sctpInitRtoPatch,
  iceRecheckPatch,
  sctpPathResetPatch,
  // set-up latency (docs/PERFORMANCE.md "Transport, part 2")
  iceConnectOnNominationPatch,
  dtlsStartNowPatch,
  dtlsFlightRetransmitPatch,
  dtlsNoSrtpPatch,
  sctpT1FromIceRttPatch, // after sctp-init-rto, whose 1 s it lowers
  // set-up CPU (docs/PERFORMANCE.md "Transport, part 2")
  dtlsNativeX25519Patch,
  dtlsCertificatePatch,
  // idle allocation (docs/PERFORMANCE.md "Transport, part 2")
  eventSyncExecutePatch,
  stunSerializePatch,
  sctpSackBuildPatch,
  iceRequestIdsBoundedPatch,
];

export interface InstallOptions {
  logger: Logger;
  /** Only these patches (by name); default all. */
  only?: readonly string[] | undefined;
  /** Not these patches (by name). */
  skip?: readonly string[] | undefined;
}

interface PcState {
  active: Set<string>;
  mismatches: Map<string, string[]>;
}

const states = new WeakMap<RTCPeerConnection, PcState>();
const mismatchLogged = new Set<string>();

/** Installs the patches on `pc`; returns false (and logs once) when the werift version is not the pinned one. */
export function installWeriftPatches(pc: RTCPeerConnection, options: InstallOptions): boolean {
  if (states.has(pc)) return true;
  if (!weriftVersionAccepted(options.logger)) return false;
  const state: PcState = { active: new Set(), mismatches: new Map() };
  states.set(pc, state);
  const connected: Array<() => void> = [];
  const run = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      options.logger.warn(
        { err: (err as Error).message },
        'werift patch failed while installing; left as is',
      );
    }
  };
  pc.connectionStateChange.subscribe((s) => {
    if (s === 'connected') for (const fn of connected) run(fn);
  });
  const ctx: PatchContext = {
    logger: options.logger,
    whenConnected(fn) {
      connected.push(fn);
      if (pc.connectionState === 'connected') run(fn);
    },
    markActive(name) {
      state.active.add(name);
    },
    shapeMismatch(name, problems) {
      state.mismatches.set(name, problems);
      if (!mismatchLogged.has(name)) {
        mismatchLogged.add(name);
        options.logger.warn(
          { patch: name, problems },
          `werift patch ${name} not applied: werift internals differ from what it was written for`,
        );
      }
    },
  };
  for (const patch of WERIFT_PATCHES) {
    if (options.only && !options.only.includes(patch.name)) continue;
    if (options.skip?.includes(patch.name)) continue;
    patch.install(pc, ctx);
  }
  return true;
}

/**
 * Runs the patches' `warmUp` (e.g. the process's DTLS certificate, the native X25519 self-test) when the
 * installed werift is the pinned version; nothing otherwise (the first connection logs the refusal). Returns
 * the names of the patches that warmed up.
 */
export function warmUpWeriftPatches(): string[] {
  if (installedWeriftVersion() !== PINNED_WERIFT_VERSION) return [];
  const done: string[] = [];
  for (const patch of WERIFT_PATCHES) {
    if (!patch.warmUp) continue;
    try {
      patch.warmUp();
      done.push(patch.name);
    } catch {
      // the connection's own install reports what is wrong
    }
  }
  return done;
}

/** Names of the patches in force on `pc` (for tests and diagnostics). */
export function activeWeriftPatches(pc: RTCPeerConnection): string[] {
  return [...(states.get(pc)?.active ?? [])];
}

/** Shape mismatches reported on `pc`, by patch name. */
export function weriftPatchMismatches(pc: RTCPeerConnection): Map<string, string[]> {
  return new Map(states.get(pc)?.mismatches ?? []);
}
