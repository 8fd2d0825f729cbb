/**
 * One tube living in a worker, as the registry's index holds it: its operations go to the worker
 * (worker-protocol.ts); status, connection state and live stats are the ones the worker last pushed, kept
 * up to date by the worker backend (worker-backend.ts). Its embedded connections (openConnection, the
 * handler of a handler-mode tube) cross the thread boundary through the backend's HostBridge.
 */
import type { TubeStream } from '../channel/tube-stream.ts';
import type { ChannelSpec, ConnectionStats, LiveStats, StartedTube, TubeHandle } from './backend.ts';
import type { SignalCallback } from './signals.ts';
import type { ConnectionInfo, TubeStatus } from './tube.ts';
import type { HostBridge } from './worker-bridge-host.ts';
import type { PoolWorker } from './worker-pool.ts';
import type { TubeOperation, WorkerTubeSpec } from './worker-protocol.ts';

export class WorkerTube implements TubeHandle {
  readonly id: string;
  readonly worker: PoolWorker<WorkerTube>;
  status: TubeStatus = 'connecting';
  connectionState = 'New';
  /** conversation → the worker's latest live stats of this tube's channel. */
  readonly stats = new Map<string, LiveStats>();
  readonly onSignal: SignalCallback | undefined;
  /** Handler mode: runs here, on the registry's thread, for each connection the peer opens. */
  readonly onConnection: ((stream: TubeStream, info: ConnectionInfo) => void) | undefined;
  readonly #spec: WorkerTubeSpec;
  readonly #bridge: HostBridge;
  readonly #failed: (tube: WorkerTube) => void;

  constructor(
    worker: PoolWorker<WorkerTube>,
    spec: WorkerTubeSpec,
    callbacks: {
      onSignal: SignalCallback | undefined;
      onConnection: ((stream: TubeStream, info: ConnectionInfo) => void) | undefined;
    },
    bridge: HostBridge,
    failed: (tube: WorkerTube) => void,
  ) {
    this.id = spec.id;
    this.worker = worker;
    this.#spec = spec;
    this.onSignal = callbacks.onSignal;
    this.onConnection = callbacks.onConnection;
    this.#bridge = bridge;
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
    conversationId: string,
    signal: AbortSignal | undefined,
    tail: Uint8Array | undefined,
  ): Promise<TubeStream> {
    return this.#bridge.open(this.worker, this.id, conversationId, signal, tail);
  }
}
