/**
 * A gateway tube (client mode, a real TubeRegistry) facing a raw werift peer that is not a tube: the test
 * writes the original's bytes itself (frames, control messages, fragments) and sees every message the gateway
 * sends back, raw and decoded. Loopback only.
 */
import { FrameDecoder } from '../../src/hotpath/index.ts';
import type { CreateTubeOptions, Signal } from '../../src/index.ts';
import { TubeRegistry } from '../../src/index.ts';
import { type ControlMessage, parseControl } from '../../src/protocol/control.ts';
import { Peer } from '../../src/webrtc/peer.ts';
import { decodeSdpBase64, encodeSdpBase64 } from '../../src/webrtc/sdp.ts';
import { LOOPBACK, waitFor } from './tubes.ts';

export interface RawGateway {
  readonly gateway: TubeRegistry;
  readonly tubeId: string;
  /** Every message the gateway sent, as received (fragments included). */
  readonly messages: Buffer[];
  /** Frames decoded from `messages` (only those that are not fragments, unless `decode` is replaced). */
  readonly frames: { connNo: number; payload: Buffer }[];
  readonly signals: Signal[];
  send(bytes: Uint8Array): void;
  /** Control messages received so far. */
  controls(): ControlMessage[];
  /** Bytes received on a connection so far. */
  data(connNo: number): Buffer;
  close(): Promise<void>;
}

export interface RawGatewayOptions {
  settings: Record<string, unknown>;
  label?: string;
  tube?: Partial<CreateTubeOptions>;
  /** Turns a raw message into frame bytes (e.g. a fragment reassembler); undefined = not a frame yet. */
  unwrap?: (message: Buffer) => Buffer | undefined;
}

export async function rawGateway(opts: RawGatewayOptions): Promise<RawGateway> {
  const gateway = new TubeRegistry(LOOPBACK);
  let tubeId = '';
  const early: string[] = [];
  const raw = new Peer(
    { iceServers: [], relayOnly: false, hostAddresses: ['127.0.0.1'], hostAddressesOnly: true, ipv6: false },
    {
      candidate: (c) => {
        if (tubeId) void gateway.addIceCandidate(tubeId, c);
        else early.push(c);
      },
      connectionState: () => {},
      dataChannel: () => {},
    },
  );
  const close = async (): Promise<void> => {
    await gateway.cleanupAll();
    await raw.close();
  };
  try {
    const port = raw.createDataChannel(opts.label ?? 'raw');
    const messages: Buffer[] = [];
    const frames: { connNo: number; payload: Buffer }[] = [];
    const signals: Signal[] = [];
    const decoder = new FrameDecoder();
    let opened = false;
    port.setHandlers({
      message: (m) => {
        const b = Buffer.from(m);
        messages.push(b);
        const bytes = opts.unwrap ? opts.unwrap(b) : b;
        if (!bytes) return;
        for (const f of decoder.decode(bytes))
          frames.push({ connNo: f.connNo, payload: Buffer.from(f.payload) });
      },
      drain: () => {},
      open: () => {
        opened = true;
      },
      close: () => {},
    });
    const offer = await raw.createOffer();
    const r = await gateway.createTube({
      conversationId: opts.label ?? 'raw',
      settings: opts.settings,
      trickleIce: true,
      offer: encodeSdpBase64(offer),
      onSignal: (s) => {
        signals.push(s);
        if (s.kind === 'icecandidate') void raw.addIceCandidate(s.data);
      },
      ...opts.tube,
    });
    tubeId = r.tubeId;
    for (const c of early) await gateway.addIceCandidate(tubeId, c);
    await raw.setRemoteDescription(decodeSdpBase64(r.answer as string), 'answer');
    await waitFor(() => opened, 10_000, 'raw data channel open');
    return {
      gateway,
      tubeId,
      messages,
      frames,
      signals,
      send: (b) => void port.send(b),
      controls: () =>
        frames
          .filter((f) => f.connNo === 0)
          .map((f) => parseControl(f.payload))
          .filter((c): c is ControlMessage => !(c instanceof Error)),
      data: (connNo) => Buffer.concat(frames.filter((f) => f.connNo === connNo).map((f) => f.payload)),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
