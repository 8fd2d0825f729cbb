/** Tubes on this thread: each handle is a Tube (tube.ts) with the registry's options applied. */
import { type Logger, silentLogger } from '../log.ts';
import type { PeerOptions } from '../webrtc/peer.ts';
import type { BackendHost, TubeBackend, TubeSpec } from './backend.ts';
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
          onClosed: () => this.#host.closed(handle),
        },
        spec.offerSdp === undefined ? 'server' : 'client',
      ),
      spec.offerSdp,
    );
    return handle;
  }

  async shutdown(): Promise<void> {}

  #peerOptions(spec: TubeSpec): PeerOptions {
    const s = spec.settings;
    const servers = [...(spec.iceServers ?? this.#options.iceServers ?? [])];
    const turnUrl = s['turn_url'];
    if (
      typeof turnUrl === 'string' &&
      typeof s['turn_username'] === 'string' &&
      typeof s['turn_password'] === 'string'
    ) {
      servers.push({ urls: turnUrl, username: s['turn_username'], credential: s['turn_password'] });
    }
    return {
      iceServers: servers,
      relayOnly: spec.turnOnly === true || s['turn_only'] === true,
      hostAddresses: this.#options.hostAddresses,
      hostAddressesOnly: this.#options.hostAddressesOnly,
      ipv6: this.#options.ipv6,
      portRange: this.#options.portRange,
      weriftPatches: this.#options.weriftPatches,
      logger: this.#logger,
    };
  }
}
