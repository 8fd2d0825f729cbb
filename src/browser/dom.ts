/**
 * The parts of the browser's WebRTC API the tube uses, declared structurally (the project compiles without
 * the DOM library). A real `RTCPeerConnection` satisfies these; so does any object shaped like one.
 */
export interface RtcSessionDescription {
  type: string;
  sdp: string;
}

export interface RtcIceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface RtcDataChannel {
  readonly label: string;
  readonly readyState: string;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onbufferedamountlow: ((ev: unknown) => void) | null;
}

export interface RtcPeerConnection {
  readonly connectionState: string;
  readonly iceGatheringState: string;
  readonly localDescription: RtcSessionDescription | null;
  readonly sctp?: { readonly maxMessageSize: number } | null;
  createDataChannel(label: string, init?: { ordered?: boolean }): RtcDataChannel;
  createOffer(options?: { iceRestart?: boolean }): Promise<RtcSessionDescription>;
  setLocalDescription(d?: RtcSessionDescription): Promise<void>;
  setRemoteDescription(d: RtcSessionDescription): Promise<void>;
  addIceCandidate(c?: RtcIceCandidate | null): Promise<void>;
  close(): void;
  onicecandidate: ((ev: { candidate: RtcIceCandidate | null }) => void) | null;
  onconnectionstatechange: ((ev: unknown) => void) | null;
  onicegatheringstatechange: ((ev: unknown) => void) | null;
}

export interface RtcConfiguration {
  iceServers?: { urls: string | string[]; username?: string; credential?: string }[];
  iceTransportPolicy?: 'all' | 'relay';
  [key: string]: unknown;
}

export type RtcPeerConnectionConstructor = new (config?: RtcConfiguration) => RtcPeerConnection;

/** The page's RTCPeerConnection constructor, or a clear error when there is none. */
export function pageRtcPeerConnection(): RtcPeerConnectionConstructor {
  const ctor = (globalThis as { RTCPeerConnection?: RtcPeerConnectionConstructor }).RTCPeerConnection;
  if (ctor === undefined) throw new Error('webrtc-tubes/browser: this page has no RTCPeerConnection');
  return ctor;
}
