/**
 * Worker-thread entry of worker mode (`new TubeRegistry({ workers: N })`, see worker-backend.ts): the tubes
 * the calling thread places here, run by a LocalBackend and driven over the worker's parentPort
 * (worker-protocol.ts). Arguments arrive checked by the calling thread's registry. The worker pushes `state`
 * events (tube statuses, connection states, live stats) whenever they change, always before the reply or
 * signal that follows the change. Not meant to be loaded by hand.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { parseSettings } from '../config/settings.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import { engineInfo, resolveEngine } from '../hotpath/internal.ts';
import { setVerboseLogging } from '../log.ts';
import type { MetricsSnapshot } from '../metrics/counters.ts';
import type { ChannelSpec } from './backend.ts';
import { LocalBackend } from './local-backend.ts';
import type { LocalTube } from './local-tube.ts';
import { forwardingLogger, toWireError } from './wire.ts';
import { WorkerBridge } from './worker-bridge-entry.ts';
import type {
  StreamToHost,
  StreamToWorker,
  TubeSnapshot,
  WorkerInit,
  WorkerMessage,
  WorkerRequest,
  WorkerStateEvent,
  WorkerTestHook,
  WorkerTubeSpec,
} from './worker-protocol.ts';

const port = parentPort;
if (!port) throw new Error('worker-entry.ts runs only as a worker thread (worker mode of TubeRegistry)');
const init = workerData as WorkerInit;

function send(message: WorkerMessage): void {
  port?.postMessage(message);
}

function sendStream(message: StreamToHost, transfer?: ArrayBuffer[]): void {
  port?.postMessage(message, transfer);
}

setVerboseLogging(init.verbose);
const logger = forwardingLogger(init.logLevel, send);
const tubes = new Map<string, LocalTube>();
const backend = new LocalBackend(
  { ...init.registry, ...(logger ? { logger } : {}) },
  {
    closed: (tube) => {
      if (tubes.get(tube.id) === tube) tubes.delete(tube.id);
    },
    conversationsOf: (tubeId) => tubes.get(tubeId)?.tube.conversationIds() ?? [],
  },
);

/** Embedded connections (openConnection, handler mode) with their host streams on the calling thread. */
const bridge = new WorkerBridge(sendStream, (tubeId) => tubes.get(tubeId));

// ---- state pushed to the calling thread --------------------------------------------------------------

const lastTubes = new Map<string, TubeSnapshot>();
/** tube id → conversation → last pushed stats JSON. */
const lastStats = new Map<string, Map<string, string>>();

function pushStats(state: WorkerStateEvent, tube: LocalTube): void {
  let last = lastStats.get(tube.id);
  if (!last) lastStats.set(tube.id, (last = new Map()));
  for (const conv of tube.tube.conversationIds()) {
    const stats = tube.liveStats(conv);
    if (stats === null) {
      if (last.delete(conv)) state.stats.push([tube.id, conv, null]);
      continue;
    }
    const json = JSON.stringify(stats);
    if (last.get(conv) !== json) {
      last.set(conv, json);
      state.stats.push([tube.id, conv, stats]);
    }
  }
}

let lastMetrics = '';

/** The worker's metrics when they changed since the last push (observations are always news). */
function pushMetrics(state: WorkerStateEvent): void {
  const metrics: MetricsSnapshot = backend.metrics();
  const json = JSON.stringify({ ...metrics, rttMs: [], readyMs: [] });
  if (json === lastMetrics && metrics.rttMs.length === 0 && metrics.readyMs.length === 0) return;
  lastMetrics = json;
  state.metrics = metrics;
}

/** Pushes what changed since the last push (tube states always; live stats and metrics when `withStats`). */
function flush(withStats: boolean): void {
  const state: WorkerStateEvent = { event: 'state', tubes: [], stats: [] };
  for (const [id, tube] of tubes) {
    const snap: TubeSnapshot = { status: tube.status, connectionState: tube.connectionState };
    const last = lastTubes.get(id);
    if (!last || last.status !== snap.status || last.connectionState !== snap.connectionState) {
      lastTubes.set(id, snap);
      state.tubes.push([id, snap]);
    }
    if (withStats) pushStats(state, tube);
  }
  for (const id of lastTubes.keys()) {
    if (!tubes.has(id)) {
      lastTubes.delete(id);
      lastStats.delete(id);
      state.tubes.push([id, null]);
    }
  }
  if (withStats) pushMetrics(state);
  if (state.tubes.length > 0 || state.stats.length > 0 || state.metrics) send(state);
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

function open(spec: WorkerTubeSpec): Promise<unknown> {
  const tube = backend.open({
    ...spec,
    parsed: parseSettings(spec.settings),
    onConnection: spec.handler ? bridge.incoming : undefined,
    // Signals also push state: the host sees e.g. 'active' before the 'connected' signal.
    onSignal: (signal) => {
      flush(false);
      if (spec.signals) send({ event: 'tube-signal', signal });
    },
  });
  tubes.set(tube.id, tube);
  return tube.start();
}

function run(req: WorkerRequest): unknown {
  switch (req.op) {
    case 'open':
      return open(req.spec);
    case 'testHook':
      return testHook(req.hook);
    case 'setVerbose':
      setVerboseLogging(req.on);
      backend.setVerbose(req.on);
      return undefined;
    default: {
      const tube = tubes.get(req.tubeId);
      if (!tube) throw new TubesError(ErrorCode.TUBE_NOT_FOUND, `Tube not found: ${req.tubeId}`);
      if (req.op === 'addChannel') {
        const channel = req.args[0] as Omit<ChannelSpec, 'parsed'>;
        return tube.addChannel({ ...channel, parsed: parseSettings(channel.settings) });
      }
      const operation = tube[req.op] as (...args: unknown[]) => unknown;
      return operation.apply(tube, req.args);
    }
  }
}

async function portOnMessage(req: WorkerRequest): Promise<void> {
  let reply: WorkerMessage;
  try {
    const result = await run(req);
    reply = { id: req.id, ok: true, ...(result !== undefined ? { result } : {}) };
  } catch (err) {
    reply = { id: req.id, ok: false, error: toWireError(err) };
  }
  flush(true); // the state the call left behind arrives before its reply
  send(reply);
}

port.on('message', (msg: WorkerRequest | StreamToWorker) => {
  if ('sid' in msg) bridge.onMessage(msg);
  else void portOnMessage(msg);
});
logger?.debug({ threadId: init.index }, 'tube worker ready');
send({ event: 'ready', pid: process.pid });
