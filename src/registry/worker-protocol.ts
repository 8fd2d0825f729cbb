/**
 * Messages between a worker backend (worker-backend.ts, on the registry's thread) and a tube worker
 * (worker-entry.ts). Requests name a tube operation; replies and `ready`/`log` events are the registry's wire
 * (wire.ts). The worker also sends `signal` events per tube and `state` events: what changed in its tubes,
 * always before the reply or signal that follows the change. Embedded connections (openConnection, handler
 * mode) cross as stream messages (`sid`, worker-bridge.ts), outside the request/reply scheme.
 */
import type { MetricsSnapshot } from '../metrics/counters.ts';
import type { IceServer } from '../webrtc/peer.ts';
import type { LiveStats } from './backend.ts';
import type { TubeRegistryOptions } from './registry.ts';
import type { Signal } from './signals.ts';
import type { TubeStatus } from './tube.ts';
import type { WireError, WireEvent, WireReply } from './wire.ts';

/** A tube for a worker to start: the registry's checked arguments (settings are parsed again there). */
export interface WorkerTubeSpec {
  id: string;
  conversationId: string;
  settings: Record<string, unknown>;
  trickleIce: boolean;
  offerSdp: string | undefined;
  iceServers: IceServer[] | undefined;
  turnOnly: boolean | undefined;
  enableMultiChannel: boolean;
  /** Send the tube's signals (`tube-signal` events): the caller gave an onSignal. */
  signals: boolean;
  /** Handler mode: each connection the peer opens goes to the calling thread (`incoming` stream messages). */
  handler: boolean;
}

/** TubeHandle operations a worker runs on one of its tubes (arguments as TubeHandle's, settings unparsed). */
export type TubeOperation =
  | 'start'
  | 'addChannel'
  | 'setRemoteDescription'
  | 'addIceCandidate'
  | 'createOffer'
  | 'createAnswer'
  | 'restartIce'
  | 'closeChannel'
  | 'close'
  | 'connectionStats';

/** `throw`: uncaught exception in the worker; `exit`: process.exit(3) in the worker; `oom`: allocates until
 * the worker's heap limit (use with `workerResourceLimits`); `engine`: the worker's
 * hot-path engine info (loads it); `cpu`: the worker thread's CPU time (process.threadCpuUsage). */
export type WorkerTestHook = 'throw' | 'exit' | 'oom' | 'engine' | 'cpu';

export type WorkerRequest =
  | { id: number; op: 'open'; spec: WorkerTubeSpec }
  | { id: number; op: TubeOperation; tubeId: string; args: unknown[] }
  /** setVerboseLogging() on the registry's thread: the worker's flag and its existing channels. */
  | { id: number; op: 'setVerbose'; on: boolean }
  /** Internal, for tests and benchmarks only; never reachable through the public API. */
  | { id: number; op: 'testHook'; hook: WorkerTestHook };

export interface TubeSnapshot {
  status: TubeStatus;
  connectionState: string;
}

/** What changed in a worker since its last push: tubes (null = gone), live stats per tube and channel. */
export interface WorkerStateEvent {
  event: 'state';
  tubes: [tubeId: string, TubeSnapshot | null][];
  stats: [tubeId: string, conversationId: string, LiveStats | null][];
  /** The worker's metrics when they changed (histogram observations since the previous push). */
  metrics?: MetricsSnapshot;
}

export interface WorkerSignalEvent {
  event: 'tube-signal';
  signal: Signal;
}

/**
 * One embedded connection across the thread boundary. `sid` is chosen by the side that starts it (the calling
 * thread for openConnection: > 0; the worker for a connection its handler-mode tube receives: < 0). Both
 * directions carry `data` (a transferred ArrayBuffer), `ack` (credit: bytes the receiver consumed), `eof`
 * (half-close) and `close` (the connection is over, with its reason; message absent = Normal without text).
 */
export type StreamCommon =
  | { sid: number; t: 'data'; b: ArrayBuffer }
  | { sid: number; t: 'ack'; n: number }
  | { sid: number; t: 'eof' }
  | { sid: number; t: 'close'; reason: number; message: string | undefined };

/** Calling thread → worker. */
export type StreamToWorker =
  | StreamCommon
  /** openConnection on a tube of this worker. */
  | { sid: number; t: 'open'; tubeId: string; conversationId: string; tail: Uint8Array | undefined }
  /** The open's AbortSignal fired before `opened` arrived. */
  | { sid: number; t: 'abort' }
  /** Handler mode: the host's handler returned (ConnectionOpened goes out) … */
  | { sid: number; t: 'accept' }
  /** … or threw / destroyed the stream: refused with this reason and text. */
  | { sid: number; t: 'refuse'; reason: number; message: string };

/** Worker → calling thread. */
export type StreamToHost =
  | StreamCommon
  /** The open of `sid` succeeded (the peer sent ConnectionOpened). */
  | { sid: number; t: 'opened'; connNo: number }
  /** The open of `sid` failed (refused, channel closed, aborted). */
  | { sid: number; t: 'failed'; error: WireError }
  /** Handler mode: the peer opened a connection on a tube of this worker. */
  | { sid: number; t: 'incoming'; tubeId: string; conversationId: string; connNo: number };

export type WorkerMessage = WireReply | WireEvent | WorkerStateEvent | WorkerSignalEvent | StreamToHost;

/** workerData of a tube worker. */
export interface WorkerInit {
  index: number;
  registry: Omit<TubeRegistryOptions, 'logger' | 'workers' | 'workerResourceLimits'>;
  /** pino level of the worker's forwarding logger; absent = silent. */
  logLevel?: string;
  verbose: boolean;
}
