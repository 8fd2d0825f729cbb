/**
 * Stock werift (as shipped: no patches, no socket tuning, none of Peer's machinery) configured for
 * 127.0.0.1 only, behind a werift-free interface. The benchmarks (src/bench/transport.ts `stock`,
 * src/bench/tunnel.ts `raw`) measure it against our Peer; nothing in the library uses it. Signalling is
 * non-trickle: offer() and answer() return the complete SDP once gathering is done, with only the
 * 127.0.0.1 candidates left in it.
 */
import { type RTCDataChannel, RTCPeerConnection } from 'werift';
import { filterSdpCandidates } from './sdp.ts';

const LOOPBACK = '127.0.0.1';

/** One stock werift data channel, as far as a benchmark drives it. */
export interface StockChannel {
  readonly label: string;
  bufferedAmount(): number;
  setBufferedAmountLowThreshold(bytes: number): void;
  send(data: Buffer): void;
  /** `fn` runs whenever bufferedAmount falls to the threshold; returns the unsubscribe. */
  onDrain(fn: () => void): () => void;
  /** `fn` gets every message as werift delivers it (binary messages as a Buffer); returns the unsubscribe. */
  onMessage(fn: (data: Buffer | string) => void): () => void;
  /** Resolves once the channel is open. */
  readonly opened: Promise<void>;
}

/** One end of a stock werift peer connection on 127.0.0.1. */
export interface StockLoopbackEnd {
  /** Offerer: an ordered data channel, created before offer(). */
  createDataChannel(label: string): StockChannel;
  /** Answerer: `fn` gets each data channel the offerer opened. */
  onDataChannel(fn: (channel: StockChannel) => void): void;
  /** Offerer: the complete offer. */
  offer(): Promise<string>;
  /** Answerer: the complete answer to `offer`. */
  answer(offer: string): Promise<string>;
  /** Offerer: applies the answer. */
  accept(answer: string): Promise<void>;
  close(): Promise<void>;
}

function stockChannel(dc: RTCDataChannel): StockChannel {
  return {
    label: dc.label,
    bufferedAmount: () => dc.bufferedAmount,
    setBufferedAmountLowThreshold: (bytes) => {
      dc.bufferedAmountLowThreshold = bytes;
    },
    send: (data) => dc.send(data),
    onDrain: (fn) => {
      const sub = dc.bufferedAmountLow.subscribe(fn);
      return () => sub.unSubscribe();
    },
    onMessage: (fn) => {
      const sub = dc.onMessage.subscribe(fn);
      return () => sub.unSubscribe();
    },
    opened: new Promise((resolve) => {
      if (dc.readyState === 'open') return resolve();
      const sub = dc.stateChanged.subscribe((s) => {
        if (s === 'open') {
          sub.unSubscribe();
          resolve();
        }
      });
    }),
  };
}

/** werift exactly as an application would configure it for loopback (as Peer does for LOOPBACK), nothing of ours. */
export function stockLoopbackEnd(): StockLoopbackEnd {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: [LOOPBACK],
    iceUseIpv6: false,
    iceFilterCandidatePair: (pair) =>
      pair.remoteCandidate.host === LOOPBACK &&
      (pair.protocol.localCandidate === undefined || pair.protocol.localCandidate.host === LOOPBACK),
  });
  const localSdp = async (): Promise<string> => {
    if (pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const sub = pc.iceGatheringStateChange.subscribe((s) => {
          if (s === 'complete') {
            sub.unSubscribe();
            resolve();
          }
        });
      });
    }
    return filterSdpCandidates(pc.localDescription?.sdp ?? '', (address) => address === LOOPBACK);
  };
  return {
    createDataChannel: (label) => stockChannel(pc.createDataChannel(label, { ordered: true })),
    onDataChannel: (fn) => {
      pc.onDataChannel.subscribe((dc) => fn(stockChannel(dc)));
    },
    async offer() {
      await pc.setLocalDescription(await pc.createOffer());
      return localSdp();
    },
    async answer(offer) {
      await pc.setRemoteDescription({ type: 'offer', sdp: offer });
      await pc.setLocalDescription(await pc.createAnswer());
      return localSdp();
    },
    async accept(answer) {
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    },
    close: () => pc.close(),
  };
}
