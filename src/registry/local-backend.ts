/** Tubes on this thread: each handle is a Tube (tube.ts) with the registry's options applied. */
import { type Logger, silentLogger } from '../log.ts';
import { iceServerPlan } from '../webrtc/ice-servers.ts';
import type { PeerOptions } from '../webrtc/peer.ts';
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

  constructor(options: LocalOptions, host: BackendHost) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.#host = host;
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
          logger: this.#logger,
          limits: this.#options.limits,
          protocolExtensions: this.#options.protocolExtensions,
          fragmentation: spec.enableMultiChannel,
          onSignal: spec.onSignal,
          gatherTimeoutMs: this.#options.iceGatherTimeoutMs ?? 30_000,
          creationTimeoutMs: this.#creationTimeoutMs(),
          iceRestart: resolveIceRestartOptions(this.#options.iceRestart),
          onClosed: () => this.#host.closed(handle),
        },
        spec.offerSdp === undefined ? 'server' : 'client',
      ),
      spec.offerSdp,
    );
    return handle;
  }

  async shutdown(): Promise<void> {}

  #creationTimeoutMs(): number {
    if (this.#options.creationTimeoutMs !== undefined) return this.#options.creationTimeoutMs;
    const v = process.env['KEEPER_GATEWAY_TUBE_CREATION_TIMEOUT_SECS'];
    const secs = v !== undefined && v.trim() !== '' ? Number(v) : Number.NaN;
    return Number.isInteger(secs) && secs >= 0 ? secs * 1000 : 15_000;
  }

  #peerOptions(spec: TubeSpec): PeerOptions {
    const servers = spec.iceServers ?? this.#options.iceServers ?? [];
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
