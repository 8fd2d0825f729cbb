/** Tubes on this thread: each handle is a Tube (tube.ts) with the registry's options applied. */
import { engineInfo } from '../hotpath/internal.ts';
import { type Logger, silentLogger } from '../log.ts';
import { addTraffic, MetricsSink, type MetricsSnapshot, zeroTraffic } from '../metrics/counters.ts';
import {
  type IceServer,
  type IceServerPlan,
  iceServerPlan,
  resolveIceServers,
} from '../webrtc/ice-servers.ts';
import { type PeerOptions, warmUpPeers } from '../webrtc/peer.ts';
import { withTurnRestCredentials } from '../webrtc/turn-rest.ts';
import type { BackendHost, TubeBackend, TubeSpec } from './backend.ts';
import { resolveIceRestartOptions } from './ice-restart.ts';
import { LocalTube } from './local-tube.ts';
import type { TubeRegistryOptions } from './registry.ts';
import { Tube } from './tube.ts';

export type LocalOptions = Omit<TubeRegistryOptions, 'workers' | 'workerResourceLimits'>;

export class LocalBackend implements TubeBackend {
  readonly #options: LocalOptions;
  readonly #logger: Logger;
  readonly #host: BackendHost;
  readonly #tubes = new Set<LocalTube>();
  readonly #sink = new MetricsSink();

  constructor(options: LocalOptions, host: BackendHost) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.#host = host;
    warmUpPeers(options.weriftPatches);
  }

  open(spec: TubeSpec): LocalTube {
    const handle: LocalTube = new LocalTube(
      new Tube(
        {
          id: spec.id,
          conversationId: spec.conversationId,
          settings: spec.parsed,
          trickleIce: spec.trickleIce,
          peer: this.#peerOptions(spec),
          refreshIceServers: this.#refresher(spec),
          logger: this.#logger,
          limits: this.#options.limits,
          protocolExtensions: this.#options.protocolExtensions,
          fragmentation: spec.enableMultiChannel,
          onSignal: spec.onSignal,
          onConnection: spec.onConnection,
          observer: this.#sink,
          gatherTimeoutMs: this.#options.iceGatherTimeoutMs ?? 30_000,
          creationTimeoutMs: this.#creationTimeoutMs(),
          iceRestart: resolveIceRestartOptions(this.#options.iceRestart),
          onClosed: () => this.#closed(handle),
        },
        spec.offerSdp === undefined ? 'server' : 'client',
      ),
      spec.offerSdp,
    );
    this.#tubes.add(handle);
    return handle;
  }

  async shutdown(): Promise<void> {}

  #creationTimeoutMs(): number {
    if (this.#options.creationTimeoutMs !== undefined) return this.#options.creationTimeoutMs;
    const v = process.env['KEEPER_GATEWAY_TUBE_CREATION_TIMEOUT_SECS'];
    const secs = v !== undefined && v.trim() !== '' ? Number(v) : Number.NaN;
    return Number.isInteger(secs) && secs >= 0 ? secs * 1000 : 15_000;
  }

  /** A tube is gone: its channels' traffic stays in the totals. */
  #closed(handle: LocalTube): void {
    if (this.#tubes.delete(handle)) {
      for (const channel of handle.tube.channels()) addTraffic(this.#sink.retired, channel.stats());
    }
    this.#host.closed(handle);
  }

  metrics(): MetricsSnapshot {
    const tubesByStatus: Record<string, number> = {};
    const traffic = zeroTraffic();
    let connectionsOpen = 0;
    for (const handle of this.#tubes) {
      const status = handle.status;
      tubesByStatus[status] = (tubesByStatus[status] ?? 0) + 1;
      for (const channel of handle.tube.channels()) {
        const s = channel.stats();
        addTraffic(traffic, s);
        connectionsOpen += s.activeConnections;
      }
    }
    return this.#sink.snapshot({ tubesByStatus, connectionsOpen, traffic, engine: engineInfo().engine });
  }

  setVerbose(on: boolean): void {
    for (const handle of this.#tubes) handle.tube.setVerbose(on);
  }

  /** The servers the tube starts with: the spec's (resolved by the registry), else the registry's list. */
  #servers(spec: TubeSpec): IceServer[] {
    const own = this.#options.iceServers;
    return spec.iceServers ?? (Array.isArray(own) ? own : []);
  }

  /**
   * Fresh servers for each ICE restart's gathering: the provider called again, and/or `turnRest` credentials
   * minted again. undefined when neither is configured (the servers never change).
   */
  #refresher(spec: TubeSpec): (() => Promise<IceServerPlan>) | undefined {
    const provider = spec.iceServersProvider;
    const rest = this.#options.turnRest;
    if (provider === undefined && rest === undefined) return undefined;
    const fixed = this.#servers(spec);
    const timeoutMs = this.#options.turnTimeoutMs ?? 5_000;
    return async () =>
      iceServerPlan(
        withTurnRestCredentials(provider ? await resolveIceServers(provider, timeoutMs) : fixed, rest),
        spec.settings,
        spec.turnOnly,
      );
  }

  #peerOptions(spec: TubeSpec): PeerOptions {
    const servers = withTurnRestCredentials(this.#servers(spec), this.#options.turnRest);
    // Checked by the registry already; resolved here (the worker side has no registry).
    const icePlan = iceServerPlan(servers, spec.settings, spec.turnOnly);
    return {
      iceServers: [...servers],
      relayOnly: icePlan.relayOnly,
      icePlan,
      turnTimeoutMs: this.#options.turnTimeoutMs,
      turnTls: this.#options.turnTls,
      hostAddresses: this.#options.hostAddresses,
      hostAddressesOnly: this.#options.hostAddressesOnly,
      ipv6: this.#options.ipv6,
      portRange: this.#options.portRange,
      weriftPatches: this.#options.weriftPatches,
      logger: this.#logger,
    };
  }
}
