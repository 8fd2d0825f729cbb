/**
 * The tube workers of a worker backend: N slots, each empty or holding one `worker_threads` Worker running
 * worker-entry.ts. Spawns on demand into the least loaded slot, matches replies to calls, keeps a worker
 * referenced only while it has tubes or calls in flight, and reports a worker's exit once, rejecting what it
 * left unanswered. What the messages mean is the backend's business (worker-backend.ts).
 */
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { ErrorCode, TubesError } from '../errors.ts';
import { isVerbose, type Logger } from '../log.ts';
import { fromWireError, siblingModule } from './wire.ts';
import type { StreamToHost, WorkerInit, WorkerMessage, WorkerRequest } from './worker-protocol.ts';

/** The tube worker entry next to this module (.ts from src/, .js from dist/). */
export function workerEntry(): string {
  return siblingModule(import.meta.url, 'worker-entry');
}

type Unsent<R> = R extends unknown ? Omit<R, 'id'> : never;

/** A request as the backend writes it; the worker adds the id. */
export type PoolRequest = Unsent<WorkerRequest>;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export interface PoolEvents<T> {
  /** Every message that is not a reply or a stream message. */
  message(worker: PoolWorker<T>, msg: Exclude<WorkerMessage, { id: number } | StreamToHost>): void;
  /** A stream message (embedded connections, worker-bridge.ts). */
  stream(worker: PoolWorker<T>, msg: StreamToHost): void;
  /** The worker is gone (`exitError` says why); its unanswered calls are rejected right after. */
  exit(worker: PoolWorker<T>, code: number): void;
}

/** One live worker and the tubes placed on it. */
export class PoolWorker<T> {
  readonly index: number;
  readonly worker: Worker;
  /** Tubes placed here by the backend: the worker's load, and what keeps it referenced. */
  readonly tubes = new Map<string, T>();
  readonly exited: Promise<void>;
  /** Set by stop(): an exit now is expected. */
  stopping = false;
  exitError: TubesError | undefined;
  readonly #pending = new Map<number, Pending>();
  #error: Error | undefined;
  #referenced = true;
  #nextId = 1;

  constructor(
    index: number,
    init: WorkerInit,
    resourceLimits: ResourceLimits | undefined,
    events: PoolEvents<T>,
  ) {
    this.index = index;
    this.worker = new Worker(workerEntry(), {
      workerData: init,
      ...(resourceLimits ? { resourceLimits } : {}),
    });
    let exitedResolve: () => void = () => {};
    this.exited = new Promise((r) => (exitedResolve = r));
    this.worker.on('message', (msg: WorkerMessage) => this.#workerOnMessage(msg, events));
    this.worker.on('error', (err) => {
      this.#error ??= err;
    });
    this.worker.once('exit', (code) => {
      this.#workerOnExit(code, events);
      exitedResolve();
    });
  }

  /** The worker's 'error' event, if it had one (the cause of its exit). */
  get error(): Error | undefined {
    return this.#error;
  }

  place(tubeId: string, tube: T): void {
    this.tubes.set(tubeId, tube);
    this.#updateRef();
  }

  release(tubeId: string): void {
    this.tubes.delete(tubeId);
    this.#updateRef();
  }

  call<R>(request: PoolRequest): Promise<R> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.#nextId++;
    try {
      this.worker.postMessage({ ...request, id });
    } catch (err) {
      return Promise.reject(
        new TubesError(
          ErrorCode.BAD_ARGUMENT,
          `${request.op}: arguments cannot be passed to a tube worker: ${(err as Error).message}`,
          { cause: err },
        ),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#updateRef();
    });
  }

  /** A worker keeps the process alive only while it has tubes or calls in flight (as in-thread tubes do). */
  #updateRef(): void {
    const want = this.tubes.size > 0 || this.#pending.size > 0;
    if (want === this.#referenced || this.exitError) return;
    this.#referenced = want;
    if (want) this.worker.ref();
    else this.worker.unref();
  }

  #workerOnMessage(msg: WorkerMessage, events: PoolEvents<T>): void {
    if ('sid' in msg) {
      events.stream(this, msg);
      return;
    }
    if ('event' in msg) {
      events.message(this, msg);
      return;
    }
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    this.#updateRef();
    if (msg.ok) pending.resolve(msg.result);
    else pending.reject(fromWireError(msg.error));
  }

  #workerOnExit(code: number, events: PoolEvents<T>): void {
    const detail = this.#error ? `: ${this.#error.message}` : '';
    this.exitError = new TubesError(
      ErrorCode.CLOSED,
      `Tube worker ${this.index} exited (code ${code})${detail}`,
      this.#error ? { cause: this.#error } : undefined,
    );
    events.exit(this, code);
    this.tubes.clear();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(this.exitError);
  }
}

export interface WorkerPoolOptions {
  size: number;
  init: Omit<WorkerInit, 'index' | 'verbose'>;
  resourceLimits: ResourceLimits | undefined;
  logger: Logger;
}

export class WorkerPool<T> {
  readonly #options: WorkerPoolOptions;
  readonly #events: PoolEvents<T>;
  #slots: (PoolWorker<T> | undefined)[];

  constructor(options: WorkerPoolOptions, events: PoolEvents<T>) {
    this.#options = options;
    this.#slots = new Array(options.size).fill(undefined);
    this.#events = {
      message: events.message,
      stream: events.stream,
      exit: (worker, code) => {
        if (this.#slots[worker.index] === worker) this.#slots[worker.index] = undefined;
        events.exit(worker, code);
      },
    };
  }

  /** The worker with the fewest tubes (a new one in an empty slot). */
  pick(): PoolWorker<T> {
    let best = 0;
    let load = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.#slots.length; i++) {
      const n = this.#slots[i]?.tubes.size ?? 0;
      if (n < load) {
        best = i;
        load = n;
      }
    }
    return this.#slots[best] ?? this.#spawn(best);
  }

  live(): PoolWorker<T>[] {
    return this.#slots.filter((s): s is PoolWorker<T> => s !== undefined);
  }

  /** Ends every worker (the next pick() starts fresh ones). */
  async stop(): Promise<void> {
    const workers = this.live();
    this.#slots = new Array(this.#options.size).fill(undefined);
    await Promise.all(
      workers.map(async (w) => {
        w.stopping = true;
        await w.worker.terminate();
        await w.exited;
      }),
    );
  }

  #spawn(index: number): PoolWorker<T> {
    const init: WorkerInit = { ...this.#options.init, index, verbose: isVerbose() };
    const worker = new PoolWorker(index, init, this.#options.resourceLimits, this.#events);
    this.#slots[index] = worker;
    this.#options.logger.debug({ worker: index, threadId: worker.worker.threadId }, 'tube worker started');
    return worker;
  }
}
