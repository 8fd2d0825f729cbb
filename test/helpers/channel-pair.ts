/**
 * Two real Channels over the in-memory port pair (test/helpers/memory-port.ts): an offering channel whose
 * connections are opened from code (`openStream`) and a gateway channel in handler mode, each counting into
 * its own MetricsSink. Keepalive off. `closeChannelPairs()` (from the test file's afterEach) closes them all.
 */
import { Channel } from '../../src/channel/channel.ts';
import type { TubeStream } from '../../src/channel/tube-stream.ts';
import type { ChannelLimits } from '../../src/channel/types.ts';
import { silentLogger } from '../../src/log.ts';
import { MetricsSink } from '../../src/metrics/counters.ts';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import { type MemoryPortPair, memoryPortPair } from './memory-port.ts';

export interface ChannelPair {
  ports: MemoryPortPair;
  offerer: Channel;
  gateway: Channel;
  /** Streams the gateway's handler received, in order. */
  served: TubeStream[];
  gatewaySink: MetricsSink;
  offererSink: MetricsSink;
}

const open: ChannelPair[] = [];

/** Closes both channels of every pair `channelPair` made (Normal) and the ports. */
export function closeChannelPairs(): void {
  for (const p of open.splice(0)) {
    p.offerer.close(CloseConnectionReason.Normal);
    p.gateway.close(CloseConnectionReason.Normal);
    p.ports.a.close();
  }
}

/**
 * A connected pair on conversation `label`. The gateway gives each stream to `handler` after recording it in
 * `served`; what `handler` returns goes back to the channel (a DeferredAccept decides later).
 */
export function channelPair(
  label: string,
  handler: (stream: TubeStream, connNo: number) => unknown,
  limits?: Partial<ChannelLimits>,
): ChannelPair {
  const ports = memoryPortPair(label, 65536);
  const served: TubeStream[] = [];
  const offererSink = new MetricsSink();
  const gatewaySink = new MetricsSink();
  const common = {
    logger: silentLogger(),
    verbose: false,
    limits: { keepaliveIntervalMs: 0, ...limits },
    onEnd: () => {},
    onPeerTimeout: () => {},
    onOpen: () => {},
    onTransportClose: () => {},
  };
  const offerer = new Channel({ ...common, port: ports.a, role: 'server', observer: offererSink });
  const gateway = new Channel({
    ...common,
    port: ports.b,
    role: 'client',
    observer: gatewaySink,
    handler: (stream, connNo) => {
      served.push(stream);
      return handler(stream, connNo) as undefined;
    },
  });
  ports.open();
  const p = { ports, offerer, gateway, served, offererSink, gatewaySink };
  open.push(p);
  return p;
}
