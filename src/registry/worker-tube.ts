/**
 * One tube living in a worker, as the registry's index holds it: its operations go to the worker
 * (worker-protocol.ts); status, connection state and live stats are the ones the worker last pushed, kept
 * up to date by the worker backend (worker-backend.ts).
 */
import type { TubeStream } from '../channel/tube-stream.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import type { ChannelSpec, ConnectionStats, LiveStats, StartedTube, TubeHandle } from './backend.ts';
import type { SignalCallback } from './signals.ts';
import type { TubeStatus } from './tube.ts';
import type { PoolWorker } from './worker-pool.ts';
import type { TubeOperation, WorkerTubeSpec } from './worker-protocol.ts';

/** Why a Duplex per connection needs the tube on the registry's thread. */
export const IN_THREAD_ONLY =
  'openConnection and onConnection need the tube on the registry thread (a registry without `workers`)';

export class WorkerTube implements TubeHandle {
  readonly id: string;
  readonly worker: PoolWorker<WorkerTube>;
  status: TubeStatus = 'connecting';
  connectionState = 'New';
  /** conversation → the worker's latest live stats of this tube's channel. */
  readonly stats = new Map<string, LiveStats>();
  readonly onSignal: SignalCallback | undefined;
  readonly #spec: WorkerTubeSpec;
  readonly #failed: (tube: WorkerTube) => void;

  constructor(
    worker: PoolWorker<WorkerTube>,
    spec: WorkerTubeSpec,
    onSignal: SignalCallback | undefined,
    failed: (tube: WorkerTube) => void,
  ) {
    this.id = spec.id;
    this.worker = worker;
    this.#spec = spec;
    this.onSignal = onSignal;
    this.#failed = failed;
  }

  #run<R>(op: TubeOperation, ...args: unknown[]): Promise<R> {
    return this.worker.call<R>({ op, tubeId: this.id, args });
  }

  async start(): Promise<StartedTube> {
    try {
      return await this.worker.call<StartedTube>({ op: 'open', spec: this.#spec });
    } catch (err) {
      this.#failed(this);
      throw err;
    }
  }

  addChannel(channel: ChannelSpec): Promise<string | undefined> {
    return this.#run('addChannel', { conversationId: channel.conversationId, settings: channel.settings });
  }

  setRemoteDescription(sdp: string, isAnswer: boolean): Promise<string | undefined> {
    return this.#run('setRemoteDescription', sdp, isAnswer);
  }

  addIceCandidate(candidate: string): Promise<void> {
    return this.#run('addIceCandidate', candidate);
  }

  createOffer(): Promise<string> {
    return this.#run('createOffer');
  }

  createAnswer(): Promise<string> {
    return this.#run('createAnswer');
  }

  restartIce(): Promise<string> {
    return this.#run('restartIce');
  }

  closeChannel(conversationId: string, reason: number): Promise<void> {
    return this.#run('closeChannel', conversationId, reason);
  }

  close(reason: number): Promise<void> {
    return this.#run('close', reason);
  }

  connectionStats(): Promise<ConnectionStats> {
    return this.#run('connectionStats');
  }

  conversationIds(): string[] {
    return [...this.stats.keys()];
  }

  liveStats(conversationId: string): LiveStats | null {
    const stats = this.stats.get(conversationId);
    return stats ? { ...stats } : null;
  }

  openConnection(
    _conversationId: string,
    _signal: AbortSignal | undefined,
    _tail: Uint8Array | undefined,
  ): Promise<TubeStream> {
    return Promise.reject(new TubesError(ErrorCode.BAD_ARGUMENT, IN_THREAD_ONLY));
  }
}
