/**
 * Worker mode: `new TubeRegistry({ workers: N })` runs its tubes in N `worker_threads`, each a plain
 * TubeRegistry (worker-entry.ts), while the API stays on the calling thread with the same methods and
 * semantics. Sync methods answer from state kept here: the tube → worker map, the conversation index, the
 * statuses / connection states / live stats the workers push when they change, the admission counters.
 * Async methods are forwarded to the tube's worker. Messages follow the child-process harness
 * (src/cli/wire.ts). A worker that dies takes only its own tubes with it (`channel_closed`, outcome
 * `error: worker exited`); the next createTube gets a fresh worker.
 */
import { randomUUID } from 'node:crypto';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { modeFor } from '../channel/modes.ts';
import {
  forwardedLogLevel,
  forwardLogLine,
  fromWireError,
  siblingModule,
  type WireEvent,
  type WireReply,
} from '../cli/wire.ts';
import { parseSettings } from '../config/settings.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import { isVerbose, type Logger, silentLogger } from '../log.ts';
import { CloseConnectionReason, closeReasonJson } from '../protocol/close-reason.ts';
import { decodeSdpBase64 } from '../webrtc/sdp.ts';
import { Admission, type CapacityReport } from './capacity.ts';
import type { CreateTubeOptions, CreateTubeResult, TubeRegistry, TubeRegistryOptions } from './registry.ts';
import type { Signal, SignalCallback } from './signals.ts';
import type { TubeStatus } from './tube.ts';
import { TubeIndex } from './tube-index.ts';

// ---- protocol between this thread and worker-entry.ts ---------------------------------------------------

export type WorkerMethod =
  | 'createTube'
  | 'setRemoteDescription'
  | 'addIceCandidate'
  | 'createOffer'
  | 'createAnswer'
  | 'restartIce'
  | 'closeTube'
  | 'closeConnection'
  | 'associateConversation'
  | 'getConnectionStats'
  | 'cleanupTubes'
  | 'cleanupAll'
  /** Internal, for tests and benchmarks only (see WorkerTestHook); never reachable through the public API. */
  | '__testHook';

/** `throw`: uncaught exception in the worker; `exit`: process.exit(3) in the worker; `oom`: allocates until
 * the worker's heap limit (use with `workerResourceLimits`); `engine`: the worker's
 * hot-path engine info (loads it); `cpu`: the worker thread's CPU time (process.threadCpuUsage). */
export type WorkerTestHook = 'throw' | 'exit' | 'oom' | 'engine' | 'cpu';

export interface WorkerRequest {
  id: number;
  method: WorkerMethod;
  args: unknown[];
  /** createTube only: send the tube's signals as `signal` events tagged with this request id. */
  signals?: boolean;
}

export interface TubeSnapshot {
  status: TubeStatus;
  connectionState: string;
}

/** What changed in a worker since its last push: tubes (null = gone) and live stats per conversation. */
export interface WorkerStateEvent {
  event: 'state';
  tubes: [string, TubeSnapshot | null][];
  stats: [string, Record<string, unknown> | null][];
}

export type WorkerMessage = WireReply | WireEvent | WorkerStateEvent;

/** workerData of a tube worker. */
export interface WorkerInit {
  index: number;
  registry: Omit<TubeRegistryOptions, 'logger' | 'workers' | 'workerResourceLimits'>;
  /** pino level of the worker's forwarding logger; absent = silent. */
  logLevel?: string;
  verbose: boolean;
}

/** The tube worker entry next to this module (.ts from src/, .js from dist/). */
export function workerEntry(): string {
  return siblingModule(import.meta.url, 'worker-entry');
}

// ---- the calling thread's side -------------------------------------------------------------------------

type PublicApi = { [K in keyof TubeRegistry]: TubeRegistry[K] };

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  readonly index: number;
  readonly worker: Worker;
  readonly tubes: Set<string>;
  readonly pending: Map<number, Pending>;
  /** conversation → the worker's latest live stats of it. */
  readonly stats: Map<string, Record<string, unknown>>;
  readonly exited: Promise<void>;
  stopping: boolean;
  error: Error | undefined;
  exitError: TubesError | undefined;
  referenced: boolean;
}

interface TubeEntry {
  readonly id: string;
  readonly slot: Slot;
  status: TubeStatus;
  connectionState: string;
  /** Request id whose signal handler is this tube's onSignal. */
  signalCall: number | undefined;
}

const INTERNAL = Symbol('webrtc-tubes.workers.internal');

/** Outcome of `channel_closed` for the tubes of a worker that died. */
export const WORKER_EXITED_OUTCOME = 'error: worker exited';

class WorkerTubeRegistry implements PublicApi {
  readonly #size: number;
  readonly #logger: Logger;
  readonly #hostLogger: Logger | undefined;
  readonly #init: Omit<WorkerInit, 'index' | 'verbose'>;
  readonly #admission: Admission;
  readonly #resourceLimits: ResourceLimits | undefined;
  #slots: (Slot | undefined)[];
  readonly #index = new TubeIndex<TubeEntry>();
  readonly #signalHandlers = new Map<number, SignalCallback>();
  #nextId = 1;

  constructor(options: TubeRegistryOptions) {
    const { logger, workers, workerResourceLimits, ...registry } = options;
    this.#resourceLimits = workerResourceLimits;
    if (!Number.isInteger(workers) || (workers as number) < 1) {
      throw new TubesError(
        ErrorCode.BAD_ARGUMENT,
        `workers must be a non-negative integer, got ${String(workers)}`,
      );
    }
    this.#size = workers as number;
    this.#slots = new Array(this.#size).fill(undefined);
    this.#hostLogger = logger;
    this.#logger = logger ?? silentLogger();
    this.#init = { registry, ...(logger ? { logLevel: forwardedLogLevel(logger) } : {}) };
    this.#admission = new Admission(
      options.maxConcurrentCreates ?? envInt('TUBES_MAX_CONCURRENT_CREATES') ?? 100,
    );
  }

  // ---- workers ---------------------------------------------------------------------------------------

  #spawn(index: number): Slot {
    const init: WorkerInit = { ...this.#init, index, verbose: isVerbose() };
    const worker = new Worker(workerEntry(), {
      workerData: init,
      ...(this.#resourceLimits ? { resourceLimits: this.#resourceLimits } : {}),
    });
    let exitedResolve: () => void = () => {};
    const slot: Slot = {
      index,
      worker,
      tubes: new Set(),
      pending: new Map(),
      stats: new Map(),
      exited: new Promise((r) => (exitedResolve = r)),
      stopping: false,
      error: undefined,
      exitError: undefined,
      referenced: true,
    };
    worker.on('message', (msg: WorkerMessage) => this.#onMessage(slot, msg));
    worker.on('error', (err) => {
      slot.error ??= err;
    });
    worker.once('exit', (code) => {
      this.#onExit(slot, code);
      exitedResolve();
    });
    this.#slots[index] = slot;
    this.#logger.debug({ worker: index, threadId: worker.threadId }, 'tube worker started');
    return slot;
  }

  /** The worker with the fewest tubes (a new one in an empty slot). */
  #pick(): Slot {
    let best = 0;
    let load = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#size; i++) {
      const n = this.#slots[i]?.tubes.size ?? 0;
      if (n < load) {
        best = i;
        load = n;
      }
    }
    return this.#slots[best] ?? this.#spawn(best);
  }

  /** A worker keeps the process alive only while it has tubes or calls in flight (as in-thread tubes do). */
  #updateRef(slot: Slot): void {
    const want = slot.tubes.size > 0 || slot.pending.size > 0;
    if (want === slot.referenced || slot.exitError) return;
    slot.referenced = want;
    if (want) slot.worker.ref();
    else slot.worker.unref();
  }

  #call<T>(slot: Slot, method: WorkerMethod, args: unknown[], signals?: SignalCallback): Promise<T> {
    if (slot.exitError) return Promise.reject(slot.exitError);
    const id = this.#nextId++;
    const req: WorkerRequest = { id, method, args, ...(signals ? { signals: true } : {}) };
    try {
      slot.worker.postMessage(req);
    } catch (err) {
      return Promise.reject(
        new TubesError(
          ErrorCode.BAD_ARGUMENT,
          `${method}: arguments cannot be passed to a tube worker: ${(err as Error).message}`,
          { cause: err },
        ),
      );
    }
    if (signals) this.#signalHandlers.set(id, signals);
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#updateRef(slot);
    });
  }

  #onMessage(slot: Slot, msg: WorkerMessage): void {
    if ('event' in msg) {
      switch (msg.event) {
        case 'state':
          this.#applyState(slot, msg);
          return;
        case 'signal':
          this.#deliverTo(this.#signalHandlers.get(msg.call), msg.signal);
          return;
        case 'log':
          if (this.#hostLogger) forwardLogLine(this.#hostLogger, msg.line, { worker: slot.index });
          return;
        default:
          return;
      }
    }
    const pending = slot.pending.get(msg.id);
    if (!pending) return;
    slot.pending.delete(msg.id);
    this.#updateRef(slot);
    if (msg.ok) pending.resolve(msg.result);
    else pending.reject(fromWireError(msg.error));
  }

  #applyState(slot: Slot, msg: WorkerStateEvent): void {
    for (const [id, snap] of msg.tubes) {
      let entry = this.#index.get(id);
      if (snap === null) {
        if (entry?.slot === slot) this.#remove(entry);
        continue;
      }
      if (!entry) {
        // A tube this thread did not announce (e.g. re-created under the id of one that just closed).
        entry = {
          id,
          slot,
          status: snap.status,
          connectionState: snap.connectionState,
          signalCall: undefined,
        };
        this.#index.add(entry);
        slot.tubes.add(id);
        this.#updateRef(slot);
      } else if (entry.slot !== slot) continue;
      entry.status = snap.status;
      entry.connectionState = snap.connectionState;
    }
    for (const [conv, stats] of msg.stats) {
      if (stats === null) slot.stats.delete(conv);
      else slot.stats.set(conv, stats);
    }
  }

  #remove(entry: TubeEntry): void {
    this.#index.remove(entry);
    entry.slot.tubes.delete(entry.id);
    if (entry.signalCall !== undefined) this.#signalHandlers.delete(entry.signalCall);
    this.#updateRef(entry.slot);
  }

  #onExit(slot: Slot, code: number): void {
    if (this.#slots[slot.index] === slot) this.#slots[slot.index] = undefined;
    const detail = slot.error ? `: ${slot.error.message}` : '';
    slot.exitError = new TubesError(
      ErrorCode.CLOSED,
      `Tube worker ${slot.index} exited (code ${code})${detail}`,
      slot.error ? { cause: slot.error } : undefined,
    );
    const tubes = [...slot.tubes].flatMap((id) => this.#index.get(id) ?? []);
    if (!slot.stopping || tubes.length > 0) {
      this.#logger.error(
        { worker: slot.index, code, err: slot.error?.message, tubes: tubes.map((t) => t.id) },
        'tube worker exited; its tubes are closed',
      );
    }
    for (const entry of tubes) {
      // As an in-thread tube that closes: status 'closed', channel_closed per channel, then it is gone.
      entry.status = 'closed';
      entry.connectionState = 'Closed';
      const labels = new Set(this.getConversationIdsByTubeId(entry.id));
      for (const [conv, stats] of slot.stats) if (stats['tube_id'] === entry.id) labels.add(conv);
      const cb = entry.signalCall !== undefined ? this.#signalHandlers.get(entry.signalCall) : undefined;
      for (const label of labels) {
        this.#deliverTo(cb, {
          tubeId: entry.id,
          kind: 'channel_closed',
          data: JSON.stringify({
            channel_id: label,
            outcome: WORKER_EXITED_OUTCOME,
            close_reason: closeReasonJson(CloseConnectionReason.Error),
          }),
          conversationId: label,
        });
      }
      this.#remove(entry);
    }
    slot.tubes.clear();
    slot.stats.clear();
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of pending) p.reject(slot.exitError);
  }

  #deliverTo(cb: SignalCallback | undefined, signal: Signal): void {
    if (!cb) return;
    try {
      cb(signal);
    } catch (err) {
      this.#logger.error(
        { tube: signal.tubeId, err: (err as Error).message, kind: signal.kind },
        'signal callback threw; ignored',
      );
    }
  }

  #entry(tubeId: string): TubeEntry {
    const entry = this.#index.get(tubeId);
    if (!entry) throw new TubesError(ErrorCode.TUBE_NOT_FOUND, `Tube not found: ${tubeId}`);
    return entry;
  }

  // ---- the TubeRegistry API ------------------------------------------------------------------------------

  async createTube(opts: CreateTubeOptions): Promise<CreateTubeResult> {
    // The same checks, in the same order, as the in-thread registry: same errors before any worker is involved.
    if (typeof opts.conversationId !== 'string' || opts.conversationId === '') {
      throw new TubesError(ErrorCode.BAD_ARGUMENT, 'conversationId must be a non-empty string');
    }
    modeFor(parseSettings(opts.settings));
    const { onSignal, ...rest } = opts;
    const existing = opts.tubeId !== undefined ? this.#index.get(opts.tubeId) : undefined;
    if (existing) {
      const result = await this.#call<CreateTubeResult>(existing.slot, 'createTube', [rest]);
      this.#index.associate(opts.conversationId, existing.id);
      return result;
    }
    if (opts.offer !== undefined) decodeSdpBase64(opts.offer, 'initial_offer_sdp');
    const done = this.#admission.enter();
    const id = opts.tubeId ?? randomUUID();
    let slot: Slot;
    try {
      slot = this.#pick();
    } catch (err) {
      done(false);
      throw new TubesError(ErrorCode.WEBRTC, `Failed to create tube: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const entry: TubeEntry = {
      id,
      slot,
      status: 'connecting',
      connectionState: 'New',
      signalCall: undefined,
    };
    this.#index.add(entry, opts.conversationId);
    slot.tubes.add(id);
    const call = this.#call<CreateTubeResult>(slot, 'createTube', [{ ...rest, tubeId: id }], onSignal);
    if (onSignal) entry.signalCall = this.#nextId - 1;
    try {
      const result = await call;
      done(true);
      return result;
    } catch (err) {
      done(false);
      if (this.#index.get(id) === entry) this.#remove(entry);
      throw err;
    }
  }

  async setRemoteDescription(
    tubeId: string,
    sdpBase64: string,
    isAnswer = false,
  ): Promise<string | undefined> {
    const entry = this.#entry(tubeId);
    return this.#call(entry.slot, 'setRemoteDescription', [tubeId, sdpBase64, isAnswer]);
  }

  /** Fire-and-forget as the original: never throws, unknown tubes are ignored. `""` ends the candidates. */
  async addIceCandidate(tubeId: string, candidate: string): Promise<void> {
    const entry = this.#index.get(tubeId);
    if (!entry) return;
    try {
      await this.#call(entry.slot, 'addIceCandidate', [tubeId, candidate]);
    } catch (err) {
      this.#logger.warn({ tube: tubeId, err: (err as Error).message }, 'ICE candidate rejected');
    }
  }

  createOffer(tubeId: string): Promise<string> {
    return this.#call(this.#entry(tubeId).slot, 'createOffer', [tubeId]);
  }

  createAnswer(tubeId: string): Promise<string> {
    return this.#call(this.#entry(tubeId).slot, 'createAnswer', [tubeId]);
  }

  async restartIce(tubeId: string): Promise<string> {
    return this.#call(this.#entry(tubeId).slot, 'restartIce', [tubeId]);
  }

  getConnectionState(tubeId: string): string {
    return this.#entry(tubeId).connectionState;
  }

  getTubeStatus(tubeId: string): TubeStatus {
    return this.#entry(tubeId).status;
  }

  async closeConnection(
    conversationId: string,
    reason: number = CloseConnectionReason.Unknown,
  ): Promise<void> {
    const entry = this.#index.byConversation(conversationId);
    if (!entry) {
      throw new TubesError(
        ErrorCode.CONVERSATION_NOT_FOUND,
        `No tube found for connection ID: ${conversationId}`,
      );
    }
    // The worker's own index is brought in line with this one first (it routes closeConnection).
    void this.#call(entry.slot, 'associateConversation', [entry.id, conversationId]).catch(() => {});
    await this.#call(entry.slot, 'closeConnection', [conversationId, reason]);
  }

  async closeTube(tubeId: string, reason: number = CloseConnectionReason.AdminClosed): Promise<void> {
    const entry = this.#index.get(tubeId);
    if (!entry)
      throw new TubesError(
        ErrorCode.TUBE_NOT_FOUND,
        `Failed to close tube ${tubeId}: Tube not found: ${tubeId}`,
      );
    await this.#call(entry.slot, 'closeTube', [tubeId, reason]);
  }

  tubeFound(tubeId: string): boolean {
    return this.#index.has(tubeId);
  }

  allTubeIds(): string[] {
    return this.#index.ids();
  }

  findTubes(searchTerm: string): string[] {
    return this.#index.find(searchTerm);
  }

  getConversationIdsByTubeId(tubeId: string): string[] {
    return this.#index.conversationsOf(tubeId);
  }

  tubeIdFromConnectionId(connectionId: string): string | undefined {
    return this.#index.tubeIdOf(connectionId);
  }

  getTubeIdByConversationId(conversationId: string): string {
    return this.#index.requireTubeIdOf(conversationId);
  }

  associateConversation(tubeId: string, connectionId: string): void {
    this.#index.associate(connectionId, tubeId);
    const entry = this.#index.get(tubeId);
    if (entry) void this.#call(entry.slot, 'associateConversation', [tubeId, connectionId]).catch(() => {});
  }

  activeTubeCount(): number {
    return this.#index.size;
  }

  hasActiveTubes(): boolean {
    return this.#index.size > 0;
  }

  checkCapacity(): CapacityReport {
    return this.#admission.report();
  }

  async getConnectionStats(tubeId: string): Promise<{
    packet_loss_rate: number;
    rtt_ms: number | null;
    bytes_sent: number;
    bytes_received: number;
  }> {
    const entry = this.#entry(tubeId);
    return this.#call(entry.slot, 'getConnectionStats', [tubeId]);
  }

  /** Live counters of one conversation's channel (as last pushed by its worker, at most ~100 ms old), or null. */
  getLiveStats(conversationId: string): Record<string, unknown> | null {
    const entry = this.#index.byConversation(conversationId);
    const stats = entry?.slot.stats.get(conversationId);
    if (!entry || !stats || stats['tube_id'] !== entry.id) return null;
    return { ...stats };
  }

  async cleanupTubes(tubeIds: string[]): Promise<void> {
    const bySlot = new Map<Slot, string[]>();
    for (const id of tubeIds) {
      const entry = this.#index.get(id);
      if (!entry) continue;
      const ids = bySlot.get(entry.slot) ?? [];
      ids.push(id);
      bySlot.set(entry.slot, ids);
    }
    await Promise.all(
      [...bySlot].map(([slot, ids]) => this.#call(slot, 'cleanupTubes', [ids]).catch(() => {})),
    );
  }

  /** Closes every tube, then ends the workers (the next createTube starts fresh ones). */
  async cleanupAll(): Promise<void> {
    const slots = this.#slots.filter((s): s is Slot => s !== undefined);
    this.#slots = new Array(this.#size).fill(undefined);
    await Promise.all(
      slots.map(async (slot) => {
        slot.stopping = true;
        await this.#call(slot, 'cleanupAll', []).catch(() => {});
        await slot.worker.terminate();
        await slot.exited;
      }),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanupAll();
  }

  // ---- internal: tests and benchmarks ---------------------------------------------------------------------

  [INTERNAL](): WorkerInternals {
    return {
      workers: () =>
        this.#slots.flatMap((slot) =>
          slot
            ? [
                {
                  index: slot.index,
                  threadId: slot.worker.threadId,
                  tubes: [...slot.tubes],
                  eventLoopUtilization: slot.worker.performance.eventLoopUtilization(),
                },
              ]
            : [],
        ),
      hook: (tubeId, hook) => this.#call(this.#entry(tubeId).slot, '__testHook', [hook]),
    };
  }
}

export interface WorkerInfo {
  index: number;
  threadId: number;
  tubes: string[];
  eventLoopUtilization: ReturnType<Worker['performance']['eventLoopUtilization']>;
}

interface WorkerInternals {
  workers(): WorkerInfo[];
  hook(tubeId: string, hook: WorkerTestHook): Promise<unknown>;
}

function internals(registry: TubeRegistry): WorkerInternals {
  const r = registry as unknown as Partial<WorkerTubeRegistry>;
  const get = r[INTERNAL];
  if (typeof get !== 'function') {
    throw new TubesError(ErrorCode.BAD_ARGUMENT, 'not a worker-mode TubeRegistry');
  }
  return get.call(r);
}

/** Internal (tests/benchmarks): the live workers of a worker-mode registry. Not exported by the package. */
export function workerInfo(registry: TubeRegistry): WorkerInfo[] {
  return internals(registry).workers();
}

/**
 * Internal TEST-ONLY hook (not exported by the package): runs `hook` in the worker that hosts `tubeId`,
 * e.g. 'throw' makes that worker die of an uncaught exception.
 */
export function workerTestHookForTests(
  registry: TubeRegistry,
  tubeId: string,
  hook: WorkerTestHook,
): Promise<unknown> {
  return internals(registry).hook(tubeId, hook);
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

let prototypeLinked = false;

/**
 * Called by the TubeRegistry constructor for `workers >= 1`. The instance's prototype chain includes
 * `base` (TubeRegistry.prototype), so `instanceof TubeRegistry` holds; every public method is overridden.
 */
export function createWorkerRegistry(options: TubeRegistryOptions, base: object): TubeRegistry {
  if (!prototypeLinked) {
    Object.setPrototypeOf(WorkerTubeRegistry.prototype, base);
    prototypeLinked = true;
  }
  return new WorkerTubeRegistry(options) as unknown as TubeRegistry;
}
