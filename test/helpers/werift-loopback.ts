/**
 * Bare werift peer connections over 127.0.0.1 for the tests of the werift patches (src/webrtc/patches/): a
 * connection with or without the patches, offer/answer between two of them with one ordered data channel
 * (optionally through the UDP impairment proxy, test/helpers/impair.ts), and a sha256-checked bulk transfer.
 * Every connection and proxy made here is closed by `closeLoopback()` (call it from the test file's afterEach).
 * Also our own `Peer` (src/webrtc/peer.ts) on 127.0.0.1 and its non-trickle offer/answer; the caller closes
 * those.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type RTCDataChannel, RTCPeerConnection } from 'werift';
import { type Logger, silentLogger } from '../../src/log.ts';
import { installWeriftPatches } from '../../src/webrtc/patches/index.ts';
import { Peer, type PeerOptions } from '../../src/webrtc/peer.ts';
import { type ImpairProxy, rewriteCandidatePort, startImpairProxy, withoutCandidates } from './impair.ts';

const open: RTCPeerConnection[] = [];
const proxies: ImpairProxy[] = [];

/** Closes every connection `loopbackPc` made, then every proxy `connectLoopback` started. */
export async function closeLoopback(): Promise<void> {
  await Promise.all(open.splice(0).map((pc) => pc.close().catch(() => {})));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
}

/** A connection that gathers and pairs 127.0.0.1 only; with the werift patches when `patched`. */
export function loopbackPc(patched: boolean, logger: Logger = silentLogger()): RTCPeerConnection {
  const pc = new RTCPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    iceFilterCandidatePair: (pair) => pair.remoteCandidate.host === '127.0.0.1',
  });
  if (patched) installWeriftPatches(pc, { logger });
  open.push(pc);
  return pc;
}

/** The SDP without its candidates on other addresses than 127.0.0.1. */
export const loopbackSdp = (sdp: string): string =>
  sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') || l.split(' ')[4] === '127.0.0.1')
    .join('\r\n');

export function gathered(pc: RTCPeerConnection): Promise<void> {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    else pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && resolve());
  });
}

export function opened(dc: RTCDataChannel): Promise<void> {
  return new Promise((resolve) => {
    if (dc.readyState === 'open') resolve();
    else dc.stateChanged.subscribe((s) => s === 'open' && resolve());
  });
}

function hostPort(sdp: string): number {
  const line = sdp.split('\r\n').find((l) => l.startsWith('a=candidate:') && l.split(' ')[4] === '127.0.0.1');
  return Number(line?.split(' ')[5]);
}

export interface ConnectOptions {
  /**
   * Every packet crosses the UDP impairment proxy started with these arguments: b sees a's candidate at the
   * proxy's port, a gets no candidates from b and learns it as peer-reflexive.
   */
  proxyArgs?: string[];
  /** Runs once both descriptions exist, just before a applies b's answer (where `ms` starts). */
  beforeAnswer?: () => void;
}

/**
 * Offer/answer between a (offerer, DTLS server) and b (answerer, DTLS client), non-trickle; resolves once the
 * data channel 'bulk' (ordered) is open on both sides, with `ms` from applying the answer until then.
 */
export async function connectLoopback(
  a: RTCPeerConnection,
  b: RTCPeerConnection,
  opts: ConnectOptions = {},
): Promise<{ ab: RTCDataChannel; ba: RTCDataChannel; ms: number }> {
  const ab = a.createDataChannel('bulk', { ordered: true });
  const remote = new Promise<RTCDataChannel>((resolve) => b.onDataChannel.subscribe(resolve));
  await a.setLocalDescription(await a.createOffer());
  await gathered(a);
  let offer = loopbackSdp(a.localDescription?.sdp ?? '');
  if (opts.proxyArgs) {
    const proxy = await startImpairProxy(hostPort(offer), opts.proxyArgs, 60);
    proxies.push(proxy);
    offer = rewriteCandidatePort(offer, '127.0.0.1', proxy.port);
  }
  await b.setRemoteDescription({ type: 'offer', sdp: offer });
  await b.setLocalDescription(await b.createAnswer());
  await gathered(b);
  const answer = loopbackSdp(b.localDescription?.sdp ?? '');
  opts.beforeAnswer?.();
  const t0 = performance.now();
  await a.setRemoteDescription({ type: 'answer', sdp: opts.proxyArgs ? withoutCandidates(answer) : answer });
  const ba = await remote;
  await Promise.all([opened(ab), opened(ba)]);
  return { ab, ba, ms: performance.now() - t0 };
}

/** Sends `total` random bytes in `size`-byte messages with backpressure; resolves with both sides' sha256. */
export async function transfer(
  from: RTCDataChannel,
  to: RTCDataChannel,
  total: number,
  size: number,
): Promise<{ sent: string; received: string; bytes: number }> {
  const hIn = createHash('sha256');
  const hOut = createHash('sha256');
  let received = 0;
  const done = new Promise<void>((resolve) => {
    const sub = to.onMessage.subscribe((m) => {
      const b = typeof m === 'string' ? Buffer.from(m) : m;
      hIn.update(b);
      received += b.length;
      if (received >= total) {
        sub.unSubscribe();
        resolve();
      }
    });
  });
  let sent = 0;
  from.bufferedAmountLowThreshold = 256 * 1024;
  const fill = (): void => {
    while (sent < total && from.bufferedAmount < 1024 * 1024) {
      const msg = randomBytes(Math.min(size, total - sent));
      hOut.update(msg);
      from.send(msg);
      sent += msg.length;
    }
  };
  const drain = from.bufferedAmountLow.subscribe(fill);
  fill();
  await done;
  drain.unSubscribe();
  return { sent: hOut.digest('hex'), received: hIn.digest('hex'), bytes: received };
}

/** Our `Peer` on 127.0.0.1 only, with no handlers; `options` adds to or overrides the loopback ones. */
export function loopbackPeer(options: Partial<PeerOptions> = {}): Peer {
  return new Peer(
    {
      iceServers: [],
      relayOnly: false,
      hostAddresses: ['127.0.0.1'],
      hostAddressesOnly: true,
      ipv6: false,
      ...options,
    },
    { candidate: () => {}, connectionState: () => {}, dataChannel: () => {} },
  );
}

/** Non-trickle offer/answer between two Peers, a offering a data channel; does not wait for 'connected'. */
export async function offerAnswer(a: Peer, b: Peer): Promise<void> {
  a.createDataChannel('x');
  await a.createOffer();
  await a.waitGatheringComplete(10_000, 'offer');
  await b.setRemoteDescription(a.localSdp(), 'offer');
  await b.createAnswer();
  await b.waitGatheringComplete(10_000, 'answer');
  await a.setRemoteDescription(b.localSdp(), 'answer');
}
