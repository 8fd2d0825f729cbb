/**
 * Worker-thread entry of worker mode (`new TubeRegistry({ workers: N })`, see workers.ts): one plain
 * TubeRegistry driven over the worker's parentPort. Requests and replies follow the child-process harness
 * (src/cli/wire.ts: `{ id, method, args }`, `{ id, ok, result | error }`, `signal` and `log` events); on top
 * of that the worker pushes `state` events (tube statuses, connection states, live stats) whenever they
 * change, always before the reply or signal that follows the change. Not meant to be loaded by hand.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { forwardToRegistry, toWireError } from '../cli/wire.ts';
import { engineInfo, resolveEngine } from '../hotpath/internal.ts';
import { type Logger, setVerboseLogging } from '../log.ts';
import { type CreateTubeOptions, TubeRegistry } from './registry.ts';
import type {
  TubeSnapshot,
  WorkerInit,
  WorkerMessage,
  WorkerRequest,
  WorkerStateEvent,
  WorkerTestHook,
} from './workers.ts';

const port = parentPort;
if (!port) throw new Error('worker-entry.ts runs only as a worker thread (worker mode of TubeRegistry)');
const init = workerData as WorkerInit;

function send(message: WorkerMessage): void {
  port?.postMessage(message);
}

setVerboseLogging(init.verbose);
const logger: Logger | undefined =
  init.logLevel !== undefined
    ? pino(
        { level: init.logLevel },
        { write: (line: string) => send({ event: 'log', line: line.trimEnd() }) },
      )
    : undefined;
const registry = new TubeRegistry({ ...init.registry, ...(logger ? { logger } : {}) });

// ---- state pushed to the calling thread --------------------------------------------------------------

const lastTubes = new Map<string, TubeSnapshot>();
/** Conversations the calling thread routed here (createTube, associateConversation): their stats are pushed. */
const conversations = new Set<string>();
/** conversation → last pushed `tube_id + stats` JSON. */
const lastStats = new Map<string, string>();

function tubeSnapshot(id: string): TubeSnapshot | undefined {
  if (!registry.tubeFound(id)) return undefined;
  return { status: registry.getTubeStatus(id), connectionState: registry.getConnectionState(id) };
}

/** Pushes what changed since the last push (tube states always; live stats when `withStats`). */
function flush(withStats: boolean): void {
  const state: WorkerStateEvent = { event: 'state', tubes: [], stats: [] };
  const present = new Set(registry.allTubeIds());
  for (const id of present) {
    const snap = tubeSnapshot(id);
    const last = lastTubes.get(id);
    if (snap && (!last || last.status !== snap.status || last.connectionState !== snap.connectionState)) {
      lastTubes.set(id, snap);
      state.tubes.push([id, snap]);
    }
  }
  for (const id of lastTubes.keys()) {
    if (!present.has(id)) {
      lastTubes.delete(id);
      state.tubes.push([id, null]);
    }
  }
  if (withStats) {
    for (const conv of conversations) {
      const stats = registry.getLiveStats(conv);
      if (stats === null) {
        if (lastStats.delete(conv)) state.stats.push([conv, null]);
        if (!registry.tubeIdFromConnectionId(conv)) conversations.delete(conv);
        continue;
      }
      const json = JSON.stringify(stats);
      if (lastStats.get(conv) !== json) {
        lastStats.set(conv, json);
        state.stats.push([conv, stats]);
      }
    }
  }
  if (state.tubes.length > 0 || state.stats.length > 0) send(state);
  schedule();
}

/** Status changes without a signal (data channel open, closing) are polled: fast while a tube is not 'ready'. */
const FAST_MS = 4;
const SLOW_MS = 100;
let timer: NodeJS.Timeout | undefined;
let timerDue = 0;
function schedule(): void {
  let settling = false;
  for (const s of lastTubes.values()) if (s.status !== 'ready') settling = true;
  const ms = settling ? FAST_MS : SLOW_MS;
  const due = Date.now() + ms;
  if (timer && timerDue <= due) return;
  if (timer) clearTimeout(timer);
  timerDue = due;
  timer = setTimeout(() => {
    timer = undefined;
    flush(true);
  }, ms);
  timer.unref();
}

// ---- requests -----------------------------------------------------------------------------------------

function testHook(hook: WorkerTestHook): unknown {
  switch (hook) {
    case 'throw':
      // An uncaught exception outside any request: the worker dies as it would on a real bug.
      // Never answers: the call is still pending when the worker dies.
      setImmediate(() => {
        throw new Error('worker crash requested by a test hook');
      });
      return new Promise(() => {});
    case 'exit':
      setImmediate(() => process.exit(3));
      return new Promise(() => {});
    case 'oom': {
      // Retains ever more memory until the worker's heap limit ends it (ERR_WORKER_OUT_OF_MEMORY).
      const hoard: unknown[][] = [];
      const grow = (): void => {
        for (let i = 0; i < 64; i++) hoard.push(new Array(64 * 1024).fill(hoard.length));
        setImmediate(grow);
      };
      setImmediate(grow);
      return new Promise(() => {});
    }
    case 'engine':
      resolveEngine(undefined);
      return engineInfo();
    case 'cpu':
      return process.threadCpuUsage();
  }
}

async function call(req: WorkerRequest): Promise<unknown> {
  const a = req.args;
  switch (req.method) {
    case 'createTube': {
      const opts = { ...(a[0] as CreateTubeOptions) };
      conversations.add(opts.conversationId);
      // Signals also push state: the host sees e.g. 'active' before the 'connected' signal.
      opts.onSignal = (signal) => {
        flush(false);
        if (req.signals) send({ event: 'signal', call: req.id, signal });
      };
      return registry.createTube(opts);
    }
    case 'associateConversation':
      conversations.add(a[1] as string);
      return registry.associateConversation(a[0] as string, a[1] as string);
    case '__testHook':
      return testHook(a[0] as WorkerTestHook);
    default:
      return forwardToRegistry(registry, req.method, a)?.result;
  }
}

async function handle(req: WorkerRequest): Promise<void> {
  let reply: WorkerMessage;
  try {
    const result = await call(req);
    reply = { id: req.id, ok: true, ...(result !== undefined ? { result } : {}) };
  } catch (err) {
    reply = { id: req.id, ok: false, error: toWireError(err) };
  }
  flush(true); // the state the call left behind arrives before its reply
  send(reply);
}

port.on('message', (req: WorkerRequest) => void handle(req));
logger?.debug({ threadId: init.index }, 'tube worker ready');
send({ event: 'ready', pid: process.pid });
