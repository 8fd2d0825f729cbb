/**
 * The narrow view of a WebRTC data channel that channels work with. Only src/webrtc/ implements it, so
 * channel code knows nothing of werift.
 */
export interface DataChannelHandlers {
  message(data: Uint8Array): void;
  /** bufferedAmount fell to or below the low-water threshold. */
  drain(): void;
  open(): void;
  close(): void;
}

export interface DataChannelPort {
  readonly label: string;
  readonly readyState: 'connecting' | 'open' | 'closing' | 'closed';
  /** Bytes accepted by send() and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Largest message the remote side accepts (SDP `a=max-message-size`); 0 = no limit advertised. */
  readonly maxMessageSize: number;
  bufferedAmountLowThreshold: number;
  /** True when nothing sent is still buffered or unacknowledged (best effort; used before closing). */
  readonly drained: boolean;
  /** Sends one message. The port keeps `data` until it is acknowledged: never reuse it. False if closed. */
  send(data: Uint8Array): boolean;
  setHandlers(handlers: DataChannelHandlers): void;
  close(): void;
}
