/**
 * The only module that imports werift. It turns a werift RTCPeerConnection into a `Peer` with plain SDP
 * strings, candidate strings and `DataChannelPort`s, so nothing else depends on werift's types.
 */
import { type RTCDataChannel, RTCPeerConnection } from 'werift';
import type { DataChannelHandlers, DataChannelPort } from '../channel/port.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { type IceServer, type IceServerPlan, iceServerPlan } from './ice-servers.ts';
import {
  type GatheringPlan,
  lateCandidatesSettled,
  prepareGathering,
  type TurnOutcome,
  turnGatheringUnavailable,
} from './patches/ice-gathering.ts';
import { activeWeriftPatches, installWeriftPatches, warmUpWeriftPatches } from './patches/index.ts';
import { sctpPathRecovered } from './patches/sctp-path-reset.ts';
import { sctpPacketSize, sctpPlpmtudPathChanged } from './patches/sctp-plpmtud.ts';
import { installSctpReceiveGuard } from './patches/sctp-receive-guard.ts';
import { sctpDataTransmissions } from './patches/sctp-transmit.ts';
import { candidateAddress, filterSdpCandidates } from './sdp.ts';
import { tuneUdpBuffers } from './tuning.ts';

export type { IceServer } from './ice-servers.ts';
export type { TurnOutcome } from './patches/ice-gathering.ts';

export interface PeerOptions {
  iceServers: IceServer[];
  relayOnly: boolean;
  /** The servers, already resolved from settings (src/webrtc/ice-servers.ts); else from iceServers/relayOnly. */
  icePlan?: IceServerPlan | undefined;
  /** Trickle ICE: SDP returned before gathering ends, TURN candidates trickle in later. Default false. */
  trickle?: boolean | undefined;
  /** A TURN allocation not done within this is reported unreachable (default 5,000 ms). */
  turnTimeoutMs?: number | undefined;
  /** TLS options for `turns:` servers (e.g. `{ ca }` for a private CA). */
  turnTls?: import('node:tls').ConnectionOptions | undefined;
  /** Extra host-candidate addresses (werift skips loopback unless it is listed here). */
  hostAddresses?: string[] | undefined;
  /** Use only `hostAddresses` as local candidates and only pair them with remote candidates on those addresses. */
  hostAddressesOnly?: boolean | undefined;
  ipv6?: boolean | undefined;
  portRange?: [number, number] | undefined;
  /** Advertised local max-message-size (werift default 65,536). */
  maxMessageSize?: number | undefined;
  /** UDP socket send/receive buffer size (default 4 MiB; 0 leaves the kernel default). */
  udpBufferBytes?: number | undefined;
  /**
   * Install the version-guarded werift patches (src/webrtc/patches/). Default true unless the environment has
   * TUBES_WERIFT_PATCHES=0; false = stock werift.
   */
  weriftPatches?: boolean | undefined;
  /** Patches (by name) left out when the patches are installed: benchmarks measuring one patch. */
  weriftPatchesSkipped?: readonly string[] | undefined;
  /** Where the patch installer logs (version refusal, changed internals); silent by default. */
  logger?: Logger | undefined;
}

export type PeerConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface PeerHandlers {
  /** A local ICE candidate line (`candidate:…`), or `''` when gathering is complete. */
  candidate(candidate: string): void;
  connectionState(state: PeerConnectionState): void;
  dataChannel(port: DataChannelPort): void;
  /** A TURN allocation succeeded or failed (one call per server and gathering pass). */
  turnOutcome?(outcome: TurnOutcome): void;
  /** werift's ICE connection state (`checking`, `connected`, `completed`, `disconnected`, `failed`, …). */
  iceState?(state: string): void;
}

/** The nominated ICE candidate pair, for diagnostics and tests. */
export interface SelectedPair {
  local: { type: string; address: string; port: number; protocol: string; relayProtocol?: string };
  remote: { type: string; address: string; port: number; protocol: string };
}

interface CandidateView {
  type: string;
  host: string;
  port: number;
  transport: string;
}

const DC_STATES = new Set(['connecting', 'open', 'closing', 'closed']);

class WeriftChannelPort implements DataChannelPort {
  readonly #dc: RTCDataChannel;
  readonly #pc: RTCPeerConnection;
  #handlers: DataChannelHandlers | undefined;
  #pending: Uint8Array[] = [];
  #openSeen = false;
  #closeSeen = false;

  constructor(dc: RTCDataChannel, pc: RTCPeerConnection) {
    this.#dc = dc;
    this.#pc = pc;
    // Subscribe at once: messages may arrive before the channel layer attaches its handlers.
    dc.onMessage.subscribe((data) => {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      if (this.#handlers) this.#handlers.message(bytes);
      else this.#pending.push(bytes);
    });
    dc.bufferedAmountLow.subscribe(() => this.#handlers?.drain());
    dc.stateChanged.subscribe((state) => {
      if (state === 'open') this.#fireOpen();
      else if (state === 'closed') this.#fireClose();
    });
  }

  #fireOpen(): void {
    if (this.#openSeen) return;
    this.#openSeen = true;
    this.#handlers?.open();
  }

  #fireClose(): void {
    if (this.#closeSeen) return;
    this.#closeSeen = true;
    this.#handlers?.close();
  }

  get label(): string {
    return this.#dc.label;
  }

  get readyState(): DataChannelPort['readyState'] {
    const s = this.#dc.readyState as string;
    return (DC_STATES.has(s) ? s : 'closed') as DataChannelPort['readyState'];
  }

  get bufferedAmount(): number {
    return this.#dc.bufferedAmount;
  }

  get maxMessageSize(): number {
    const sctp = this.#pc.sctpTransport;
    return sctp ? sctp.remoteMaxMessageSize : 65536;
  }

  get drained(): boolean {
    if (this.#dc.bufferedAmount > 0) return false;
    // werift keeps unsent and unacknowledged chunks in the association; peek, tolerating other versions.
    const assoc = (this.#pc.sctpTransport as unknown as { sctp?: Record<string, unknown> } | undefined)?.sctp;
    const outbound = assoc?.['outboundQueue'];
    const sent = assoc?.['sentQueue'];
    return !(Array.isArray(outbound) && outbound.length > 0) && !(Array.isArray(sent) && sent.length > 0);
  }

  get bufferedAmountLowThreshold(): number {
    return this.#dc.bufferedAmountLowThreshold;
  }

  set bufferedAmountLowThreshold(value: number) {
    this.#dc.bufferedAmountLowThreshold = value;
  }

  send(data: Uint8Array): boolean {
    if (this.#dc.readyState !== 'open') return false;
    try {
      this.#dc.send(
        Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      );
      return true;
    } catch {
      return false;
    }
  }

  setHandlers(handlers: DataChannelHandlers): void {
    this.#handlers = handlers;
    const pending = this.#pending;
    this.#pending = [];
    for (const m of pending) handlers.message(m);
    if (this.#dc.readyState === 'open') this.#fireOpen();
    else if (this.#dc.readyState === 'closed') this.#fireClose();
  }

  close(): void {
    try {
      this.#dc.close();
    } catch {
      // closing a channel whose transport is gone is not an error for us
    }
  }
}

const patchesEnabled = (weriftPatches: boolean | undefined): boolean =>
  weriftPatches ?? process.env['TUBES_WERIFT_PATCHES'] !== '0';

let warmUpScheduled = false;

/**
 * Prepares, once per process and in the next turn of the event loop (off the caller's path), what the first
 * connection would otherwise do while it is being set up: the DTLS certificate and the native X25519 check of
 * the werift patches (src/webrtc/patches). Called when a registry (or a worker's backend) is constructed; a
 * no-op for stock werift (`weriftPatches: false`). Cost in docs/PERFORMANCE.md "Transport, part 2".
 */
export function warmUpPeers(weriftPatches?: boolean): void {
  if (warmUpScheduled || !patchesEnabled(weriftPatches)) return;
  warmUpScheduled = true;
  setImmediate(warmUpWeriftPatches);
}

let guardWarned = false;
let turnFallbackWarned = false;

export class Peer {
  readonly #pc: RTCPeerConnection;
  readonly #handlers: PeerHandlers;
  readonly #allowed: Set<string> | undefined;
  #closed = false;
  /** ICE restart bookkeeping (werift's restart needs its checks restarted by hand, see #restartChecks). */
  #restartPending = false;
  #restartOnAnswer = false;
  #remoteUfrag: string | undefined;
  readonly #gathering: GatheringPlan;
  readonly #ownTurn: boolean;
  readonly #logger: Logger;

  constructor(options: PeerOptions, handlers: PeerHandlers) {
    // A remote peer must never be able to crash the process through werift's receive path.
    const guard = installSctpReceiveGuard();
    if (!guard.active && !guardWarned) {
      guardWarned = true;
      process.emitWarning(`SCTP receive guard not installed: ${guard.reason}`, {
        code: 'TUBES_WERIFT_PATCH_REFUSED',
      });
    }
    this.#handlers = handlers;
    this.#allowed = options.hostAddressesOnly ? new Set(options.hostAddresses ?? []) : undefined;
    const allowed = this.#allowed;
    this.#logger = options.logger ?? silentLogger();
    const plan = options.icePlan ?? iceServerPlan(options.iceServers, {}, options.relayOnly);
    const turnUnavailable = plan.turn.length > 0 ? turnGatheringUnavailable() : undefined;
    this.#ownTurn = turnUnavailable === undefined;
    if (!this.#ownTurn && !turnFallbackWarned) {
      turnFallbackWarned = true;
      this.#logger.warn(
        { reason: turnUnavailable },
        'TURN allocations left to werift (first TURN server only, no failure reports)',
      );
    }
    this.#gathering = {
      stun: plan.stun[0],
      turn: plan.turn,
      relayOnly: plan.relayOnly,
      waitForTurn: options.trickle !== true,
      allocateTimeoutMs: options.turnTimeoutMs ?? 5_000,
      tls: options.turnTls,
      logger: this.#logger,
      onTurnOutcome: (o) => {
        if (!this.#closed) this.#handlers.turnOutcome?.(o);
      },
    };
    const weriftServers: IceServer[] = plan.stun.slice(0, 1).map((s) => ({ urls: s.url }));
    if (!this.#ownTurn) {
      for (const t of plan.turn)
        weriftServers.push({ urls: t.url, username: t.username, credential: t.credential });
    }
    this.#pc = new RTCPeerConnection({
      // Only what the caller configured (TURN allocations are ours, see patches/ice-gathering.ts); werift's
      // implicit public STUN default is removed before each gathering pass.
      iceServers: weriftServers,
      iceTransportPolicy: plan.relayOnly ? 'relay' : 'all',
      iceAdditionalHostAddresses: options.hostAddresses,
      iceUseIpv6: options.ipv6 ?? true,
      icePortRange: options.portRange,
      ...(options.maxMessageSize !== undefined ? { maxMessageSize: options.maxMessageSize } : {}),
      ...(allowed
        ? {
            // Only the listed addresses: no sockets on other interfaces whose candidates are dropped anyway.
            iceUseIpv4: false,
            iceUseIpv6: false,
            iceFilterCandidatePair: (pair) =>
              allowed.has(pair.remoteCandidate.host) &&
              (pair.protocol.localCandidate === undefined || allowed.has(pair.protocol.localCandidate.host)),
          }
        : {}),
    });
    if (patchesEnabled(options.weriftPatches)) {
      installWeriftPatches(this.#pc, {
        logger: options.logger ?? silentLogger(),
        skip: options.weriftPatchesSkipped,
      });
    }
    this.#pc.onIceCandidate.subscribe((c) => {
      if (!c?.candidate) {
        this.#endOfCandidates();
        return;
      }
      const line = c.candidate.startsWith('candidate:') ? c.candidate : `candidate:${c.candidate}`;
      if (allowed) {
        const address = candidateAddress(line);
        if (address === undefined || !allowed.has(address)) return;
      }
      this.#emitCandidate(line);
    });
    const udpBytes = options.udpBufferBytes ?? undefined;
    const tune = (): void => {
      if (udpBytes !== 0) tuneUdpBuffers(this.#pc, udpBytes);
    };
    this.#pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        tune();
        this.#endOfCandidates();
      }
    });
    this.#pc.connectionStateChange.subscribe((s) => {
      if (s === 'connected') tune();
      if (!this.#closed || s === 'closed') this.#handlers.connectionState(s);
    });
    this.#pc.iceConnectionStateChange.subscribe((s) => {
      if (!this.#closed) this.#handlers.iceState?.(s);
    });
    this.#pc.onDataChannel.subscribe((dc) => {
      this.#handlers.dataChannel(new WeriftChannelPort(dc, this.#pc));
    });
  }

  #endSent = false;
  /** `''` once gathering is complete and (with trickle ICE) every TURN allocation and STUN query has ended. */
  #endOfCandidates(): void {
    if (!this.#ownTurn || this.#gathering.waitForTurn) {
      this.#emitCandidate('');
      return;
    }
    void lateCandidatesSettled(this.#pc).then(() => this.#emitCandidate(''));
  }

  /**
   * setLocalDescription, after applying the gathering plan to the (possibly new) ICE transports. werift's
   * setLocalDescription resolves only when gathering ends (so a slow STUN or TURN server held createTube, and
   * the non-trickle gathering timeout could never fire); we return as soon as the local description is in
   * place and let gathering (and the answerer's connectivity checks) go on.
   */
  async #setLocal(description: { type: 'offer' | 'answer' | 'pranswer'; sdp: string }): Promise<void> {
    const problems = prepareGathering(this.#pc, this.#gathering, this.#ownTurn);
    if (problems.length > 0) {
      this.#logger.warn({ problems }, 'werift ICE internals differ: TURN left to werift');
    }
    const done = this.#pc.setLocalDescription(description);
    done.catch((err: unknown) => {
      if (!this.#closed) this.#logger.warn({ err: (err as Error).message }, 'setLocalDescription failed');
    });
    // The description is applied synchronously after werift's first microtask hops; gathering then runs on
    // (non-trickle callers wait for it with their own bound: waitGatheringComplete).
    await new Promise((r) => setImmediate(r));
    if (this.#pc.localDescription?.type === description.type) return;
    await done;
  }

  #emitCandidate(line: string): void {
    if (this.#closed) return;
    if (line === '') {
      if (this.#endSent) return;
      this.#endSent = true;
    }
    this.#handlers.candidate(line);
  }

  get connectionState(): PeerConnectionState {
    const state = this.#pc.connectionState;
    // werift never moves the connection state back from failed/disconnected after an ICE restart
    // reconnected; its ICE state does.
    if ((state === 'failed' || state === 'disconnected') && this.iceConnectionState === 'connected')
      return 'connected';
    return state;
  }

  /** werift's aggregate ICE connection state (`completed` reads as `connected`). */
  get iceConnectionState(): string {
    const s = this.#pc.iceConnectionState;
    return s === 'completed' ? 'connected' : s;
  }

  /**
   * Loss detection marks, polled a few times a second (src/registry/ice-restart.ts): the SCTP association's
   * cumulative TSN of what we received, and of what the peer acknowledged of ours. undefined before SCTP
   * exists or when werift's association does not look as expected.
   */
  receivedMark(): number | undefined {
    const v = this.#sctpField('lastReceivedTsn');
    return typeof v === 'number' ? v : undefined;
  }

  acknowledgedMark(): number | undefined {
    const v = this.#sctpField('lastSackedTsn');
    return typeof v === 'number' ? v : undefined;
  }

  #sctpField(name: string): unknown {
    const assoc = (this.#pc.sctpTransport as unknown as { sctp?: Record<string, unknown> } | undefined)?.sctp;
    return assoc?.[name];
  }

  /**
   * The path works again after an outage: SCTP congestion control restarts as on a new path (patch
   * `sctp-path-reset`) and the SCTP packet size goes back to the floor to be probed again on this path
   * (`sctp-plpmtud`); nothing without the werift patches.
   */
  pathRecovered(): void {
    sctpPathRecovered(this.#pc);
    sctpPlpmtudPathChanged(this.#pc);
  }

  /**
   * Size in bytes of the SCTP packets this side sends now: werift's 1,191 until a path MTU probe proved a
   * larger size (patch `sctp-plpmtud`). Undefined before the association exists. Diagnostics and tests.
   */
  get sctpPacketSize(): number | undefined {
    return sctpPacketSize(this.#pc);
  }

  /**
   * Share of our SCTP DATA transmissions that were retransmissions (the peer did not acknowledge the first
   * send in time: fast retransmit or T3 timeout), since the association was set up: retransmitted /
   * (sent + retransmitted). 0 before anything was sent; undefined without the `sctp-transmit` patch (the
   * counts come from it, at no cost per packet).
   */
  sctpLossRate(): number | undefined {
    const c = sctpDataTransmissions(this.#pc);
    if (!c) return undefined;
    const total = c.sent + c.retransmitted;
    return total > 0 ? c.retransmitted / total : 0;
  }

  /** Bytes waiting in the SCTP association (queued, or sent and not yet acknowledged). Diagnostics only. */
  sctpQueuedBytes(): number {
    const assoc = (this.#pc.sctpTransport as unknown as { sctp?: Record<string, unknown> } | undefined)?.sctp;
    let total = 0;
    for (const name of ['outboundQueue', 'sentQueue']) {
      const q = assoc?.[name];
      if (!Array.isArray(q)) continue;
      for (const chunk of q as { userData?: { length: number } }[]) total += chunk.userData?.length ?? 0;
    }
    return total;
  }

  /** Names of the werift patches in force on this connection (src/webrtc/patches/; empty before connecting). */
  get weriftPatches(): string[] {
    return activeWeriftPatches(this.#pc);
  }

  /** `stable`, `have-local-offer`, … (an offer of ours waiting for its answer = `have-local-offer`). */
  get signalingState(): string {
    return this.#pc.signalingState;
  }

  get iceGatheringState(): 'new' | 'gathering' | 'complete' {
    return this.#pc.iceGatheringState;
  }

  /** Ordered, fully reliable, binary, not pre-negotiated, label = conversation id (as the original). */
  createDataChannel(label: string): DataChannelPort {
    const dc = this.#pc.createDataChannel(label, { ordered: true, protocol: '' });
    return new WeriftChannelPort(dc, this.#pc);
  }

  async createOffer(iceRestart = false): Promise<string> {
    this.#endSent = false;
    if (iceRestart) this.#restartPending = true;
    const offer = await this.#pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
    await this.#setLocal(offer);
    return this.localSdp();
  }

  async createAnswer(): Promise<string> {
    this.#endSent = false;
    const answer = await this.#pc.createAnswer();
    await this.#setLocal(answer);
    if (this.#restartOnAnswer) {
      this.#restartOnAnswer = false;
      this.#restartChecks();
    }
    return this.localSdp();
  }

  async setRemoteDescription(sdp: string, type: 'offer' | 'answer'): Promise<void> {
    const clean = this.#allowed
      ? filterSdpCandidates(sdp, (a) => (this.#allowed as Set<string>).has(a))
      : sdp;
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
    const restarted = ufrag !== undefined && this.#remoteUfrag !== undefined && ufrag !== this.#remoteUfrag;
    try {
      await this.#pc.setRemoteDescription({ type, sdp: clean });
      if (ufrag !== undefined) this.#remoteUfrag = ufrag;
      if (type === 'answer' && this.#restartPending) {
        this.#restartPending = false;
        this.#restartChecks();
      } else if (type === 'offer') {
        // A pending offer of ours was rolled back by werift (an offer in have-local-offer): it is gone.
        this.#restartPending = false;
        if (restarted) this.#restartOnAnswer = true;
      }
    } catch (err) {
      throw new TubesError(ErrorCode.WEBRTC, `Failed to set remote description: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /**
   * werift 0.25 renegotiates an ICE restart (new ufrag/pwd) but never runs connectivity checks with the new
   * credentials, so traffic stops for good (measured). Starting the ICE transports again once both sides
   * have the new parameters makes it resume; `start()` is werift's own public transport method.
   */
  #restartChecks(): void {
    for (const t of this.#pc.iceTransports) {
      t.start().catch(() => {
        // a transport without remote parameters yet or already closed: nothing to restart
      });
    }
  }

  /**
   * Servers for the next gathering pass (an ICE restart's): new allocations use these credentials; a live
   * allocation the server still has is kept (patches/ice-gathering.ts). `relayOnly` stays as created. Only
   * with our own TURN allocations (false otherwise: werift keeps the servers it was created with).
   */
  setIceServers(plan: IceServerPlan): boolean {
    if (!this.#ownTurn && plan.turn.length > 0) return false;
    this.#gathering.stun = plan.stun[0];
    this.#gathering.turn = plan.turn;
    return true;
  }

  /** Adds a remote candidate line. `''` marks the end of candidates. */
  async addIceCandidate(candidate: string): Promise<void> {
    if (candidate === '') return;
    const line = candidate.startsWith('a=') ? candidate.slice(2) : candidate;
    if (this.#allowed) {
      const address = candidateAddress(line);
      if (address === undefined || !this.#allowed.has(address)) return;
    }
    await this.#pc.addIceCandidate({ candidate: line, sdpMid: '0', sdpMLineIndex: 0 });
  }

  /** The current local SDP (with `a=candidate` lines once gathering is complete). */
  localSdp(): string {
    let sdp = this.#pc.localDescription?.sdp ?? '';
    // Trickle ICE: the end of candidates is the '' candidate signal. An a=end-of-candidates in the SDP (werift
    // adds one when its gathering already ended) would make the peer give up before our TURN candidates
    // (which come later) or its own checks had a chance.
    if (!this.#gathering.waitForTurn) sdp = sdp.replace(/^a=end-of-candidates\r?\n/gm, '');
    return this.#allowed ? filterSdpCandidates(sdp, (a) => (this.#allowed as Set<string>).has(a)) : sdp;
  }

  /** Resolves when ICE gathering is complete; rejects after `timeoutMs`. */
  waitGatheringComplete(timeoutMs: number, what: string): Promise<void> {
    if (this.#pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.unSubscribe();
        reject(new TubesError(ErrorCode.TIMEOUT, `ICE gathering timeout for ${what}`));
      }, timeoutMs);
      const sub = this.#pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') {
          clearTimeout(timer);
          sub.unSubscribe();
          resolve();
        }
      });
    });
  }

  /** RTT of the selected candidate pair in ms, when werift knows it. */
  /** RTT of the nominated candidate pair in ms, when werift knows it. */
  async rttMs(): Promise<number | undefined> {
    try {
      const report = await this.#pc.getStats();
      for (const s of report.values() as Iterable<Record<string, unknown>>) {
        if (
          s['type'] === 'candidate-pair' &&
          s['nominated'] &&
          typeof s['currentRoundTripTime'] === 'number'
        ) {
          return (s['currentRoundTripTime'] as number) * 1000;
        }
      }
    } catch {
      // stats are best effort
    }
    return undefined;
  }

  /** The nominated candidate pair (relay or direct), when ICE has one. */
  selectedPair(): SelectedPair | undefined {
    for (const t of this.#pc.iceTransports) {
      const pair = (t.connection as unknown as { nominated?: unknown }).nominated as
        | {
            protocol: { localCandidate?: CandidateView; turn?: { transport?: { type?: string } } };
            remoteCandidate: CandidateView;
          }
        | undefined;
      const local = pair?.protocol.localCandidate;
      if (!pair || !local) continue;
      const relayProtocol = pair.protocol.turn?.transport?.type;
      return {
        local: {
          type: local.type,
          address: local.host,
          port: local.port,
          protocol: local.transport.toLowerCase(),
          ...(relayProtocol ? { relayProtocol } : {}),
        },
        remote: {
          type: pair.remoteCandidate.type,
          address: pair.remoteCandidate.host,
          port: pair.remoteCandidate.port,
          protocol: pair.remoteCandidate.transport.toLowerCase(),
        },
      };
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#pc.close();
    } catch {
      // already torn down
    }
  }
}
