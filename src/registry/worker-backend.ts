/**
 * Worker mode: `new TubeRegistry({ workers: N })` runs its tubes in N `worker_threads` (worker-pool.ts,
 * worker-entry.ts) while the registry stays on the calling thread. Each tube here is a WorkerTube
 * (worker-tube.ts); this backend places it on the least loaded worker, applies the state its worker pushes,
 * delivers its signals and forwards the worker's logs. A worker that dies takes only its own tubes with it (`channel_closed`, outcome
 * `error: worker exited`); the next createTube gets a fresh worker.
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { ErrorCode, TubesError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { addSnapshot, emptySnapshot, type MetricsSnapshot } from '../metrics/counters.ts';
import { CloseConnectionReason, closeReasonJson } from '../protocol/close-reason.ts';
import type { BackendHost, TubeBackend, TubeSpec } from './backend.ts';
import type { TubeRegistry, TubeRegistryOptions } from './registry.ts';
import type { Signal, SignalCallback } from './signals.ts';
import { forwardedLogLevel, forwardLogLine } from './wire.ts';
import { HostBridge } from './worker-bridge-host.ts';
import { type PoolWorker, WorkerPool } from './worker-pool.ts';
import type {
  StreamToHost,
  WorkerMessage,
  WorkerStateEvent,
  WorkerTestHook,
  WorkerTubeSpec,
} from './worker-protocol.ts';
import { WorkerTube } from './worker-tube.ts';

/** Outcome of `channel_closed` for the tubes of a worker that died. */
export const WORKER_EXITED_OUTCOME = 'error: worker exited';

const backends = new WeakMap<object, WorkerBackend>();

export class WorkerBackend implements TubeBackend {
  readonly #pool: WorkerPool<WorkerTube>;
  readonly #host: BackendHost;
  readonly #logger: Logger;
  readonly #hostLogger: Logger | undefined;
  /** Each live worker's latest metrics (without observations). */
  readonly #workerMetrics = new Map<PoolWorker<WorkerTube>, MetricsSnapshot>();
  /** Counters of workers that exited, and observations not scraped yet. */
  readonly #kept: MetricsSnapshot = emptySnapshot();
  /** Embedded connections (openConnection, handler mode) of the tubes in the workers. */
  readonly #bridge: HostBridge;

  /** `owner`: the registry this backend serves (for the internal test hooks below). */
  constructor(owner: object, size: number, options: TubeRegistryOptions, host: BackendHost) {
    const { logger, workers: _w, workerResourceLimits, ...registry } = options;
    this.#host = host;
    this.#hostLogger = logger;
    this.#logger = logger ?? silentLogger();
    this.#bridge = new HostBridge(this.#logger);
    this.#pool = new WorkerPool<WorkerTube>(
      {
        size,
        init: { registry, ...(logger ? { logLevel: forwardedLogLevel(logger) } : {}) },
        resourceLimits: workerResourceLimits,
        logger: this.#logger,
      },
      {
        message: (worker, msg) => this.#workerOnMessage(worker, msg),
        stream: (worker, msg) => this.#bridge.fromWorker(worker, msg),
        exit: (worker, code) => this.#workerOnExit(worker, code),
      },
    );
    backends.set(owner, this);
  }

  open(spec: TubeSpec): WorkerTube {
    const worker = this.#pool.pick();
    const wire: WorkerTubeSpec = {
      id: spec.id ?? randomUUID(),
      conversationId: spec.conversationId,
      settings: spec.settings,
      trickleIce: spec.trickleIce,
      offerSdp: spec.offerSdp,
      iceServers: spec.iceServers,
      turnOnly: spec.turnOnly,
      enableMultiChannel: spec.enableMultiChannel,
      signals: spec.onSignal !== undefined,
      handler: spec.onConnection !== undefined,
    };
    const tube = new WorkerTube(
      worker,
      wire,
      { onSignal: spec.onSignal, onConnection: spec.onConnection },
      this.#bridge,
      (t) => this.#forget(t),
    );
    worker.place(tube.id, tube);
    return tube;
  }

  shutdown(): Promise<void> {
    return this.#pool.stop();
  }

  /** What the workers pushed (≤ ~100 ms old), added up, plus the counters of workers that exited. */
  metrics(): MetricsSnapshot {
    const total = emptySnapshot();
    addSnapshot(total, this.#kept);
    this.#kept.rttMs = [];
    this.#kept.readyMs = [];
    for (const m of this.#workerMetrics.values()) addSnapshot(total, m);
    return total;
  }

  setVerbose(on: boolean): void {
    for (const worker of this.#pool.live()) {
      worker.call({ op: 'setVerbose', on }).catch((err: Error) => {
        this.#logger.warn({ worker: worker.index, err: err.message }, 'setVerboseLogging not forwarded');
      });
    }
  }

  #applyMetrics(worker: PoolWorker<WorkerTube>, metrics: MetricsSnapshot): void {
    this.#kept.rttMs.push(...metrics.rttMs);
    this.#kept.readyMs.push(...metrics.readyMs);
    this.#workerMetrics.set(worker, { ...metrics, rttMs: [], readyMs: [] });
  }

  #forget(tube: WorkerTube): void {
    if (tube.worker.tubes.get(tube.id) !== tube) return;
    tube.worker.release(tube.id);
    this.#host.closed(tube);
  }

  #workerOnMessage(
    worker: PoolWorker<WorkerTube>,
    msg: Exclude<WorkerMessage, { id: number } | StreamToHost>,
  ): void {
    switch (msg.event) {
      case 'state':
        this.#applyState(worker, msg);
        return;
      case 'tube-signal': {
        const tube = worker.tubes.get(msg.signal.tubeId);
        if (tube) this.#deliver(tube.onSignal, msg.signal);
        return;
      }
      case 'log':
        if (this.#hostLogger) forwardLogLine(this.#hostLogger, msg.line, { worker: worker.index });
        return;
      default:
        return;
    }
  }

  #applyState(worker: PoolWorker<WorkerTube>, msg: WorkerStateEvent): void {
    if (msg.metrics) this.#applyMetrics(worker, msg.metrics);
    for (const [id, snap] of msg.tubes) {
      const tube = worker.tubes.get(id);
      if (!tube) continue;
      if (snap === null) {
        this.#forget(tube);
        continue;
      }
      tube.status = snap.status;
      tube.connectionState = snap.connectionState;
    }
    for (const [id, conv, stats] of msg.stats) {
      const tube = worker.tubes.get(id);
      if (!tube) continue;
      if (stats === null) tube.stats.delete(conv);
      else tube.stats.set(conv, stats);
    }
  }

  #workerOnExit(worker: PoolWorker<WorkerTube>, code: number): void {
    const last = this.#workerMetrics.get(worker);
    this.#workerMetrics.delete(worker);
    if (last) {
      // Its counters stay in the totals; its gauges (tubes, open connections, engine) are gone with it.
      addSnapshot(this.#kept, { ...last, tubesByStatus: {}, connectionsOpen: 0, engines: {} });
    }
    const tubes = [...worker.tubes.values()];
    if (!worker.stopping || tubes.length > 0) {
      this.#logger.error(
        { worker: worker.index, code, err: worker.error?.message, tubes: tubes.map((t) => t.id) },
        'tube worker exited; its tubes are closed',
      );
    }
    for (const tube of tubes) {
      // As an in-thread tube that closes: status 'closed', channel_closed per channel, then it is gone.
      tube.status = 'closed';
      tube.connectionState = 'Closed';
      const labels = new Set([...this.#host.conversationsOf(tube.id), ...tube.stats.keys()]);
      for (const label of labels) {
        this.#deliver(tube.onSignal, {
          tubeId: tube.id,
          kind: 'channel_closed',
          data: JSON.stringify({
            channel_id: label,
            outcome: WORKER_EXITED_OUTCOME,
            close_reason: closeReasonJson(CloseConnectionReason.Error),
          }),
          conversationId: label,
        });
      }
      this.#forget(tube);
    }
    this.#bridge.workerExited(worker);
  }

  #deliver(cb: SignalCallback | undefined, signal: Signal): void {
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

  /** Internal (tests/benchmarks). */
  workers(): WorkerInfo[] {
    return this.#pool.live().map((w) => ({
      index: w.index,
      threadId: w.worker.threadId,
      tubes: [...w.tubes.keys()],
      eventLoopUtilization: w.worker.performance.eventLoopUtilization(),
    }));
  }

  /** Internal (tests/benchmarks). */
  testHook(tubeId: string, hook: WorkerTestHook): Promise<unknown> {
    const tube = this.#pool.live().flatMap((w) => w.tubes.get(tubeId) ?? [])[0];
    if (!tube) return Promise.reject(new TubesError(ErrorCode.TUBE_NOT_FOUND, `Tube not found: ${tubeId}`));
    return tube.worker.call({ op: 'testHook', hook });
  }
}

// ---- internal: tests and benchmarks (not exported by the package) ----------------------------------------

export interface WorkerInfo {
  index: number;
  threadId: number;
  tubes: string[];
  eventLoopUtilization: ReturnType<Worker['performance']['eventLoopUtilization']>;
}

function backendOf(registry: TubeRegistry): WorkerBackend {
  const backend = backends.get(registry);
  if (!backend) throw new TubesError(ErrorCode.BAD_ARGUMENT, 'not a worker-mode TubeRegistry');
  return backend;
}

/** The live workers of a worker-mode registry. */
export function workerInfo(registry: TubeRegistry): WorkerInfo[] {
  return backendOf(registry).workers();
}

/**
 * TEST-ONLY hook: runs `hook` in the worker that hosts `tubeId`, e.g. 'throw' makes that worker die of an
 * uncaught exception.
 */
export function workerTestHookForTests(
  registry: TubeRegistry,
  tubeId: string,
  hook: WorkerTestHook,
): Promise<unknown> {
  return backendOf(registry).testHook(tubeId, hook);
}
