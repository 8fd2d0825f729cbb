/** Signals delivered to the host's `onSignal` callback, in the original's kinds and data formats (docs/ORIGINAL.md, “The host API”; docs/API.md). */
export type SignalKind =
  | 'icecandidate'
  | 'connection_state_changed'
  | 'channel_closed'
  | 'guacd_instruction'
  | 'ice_restart_offer'
  /** A TURN server could not be used: JSON `{url, code, message, stun_error_code?, elapsed_ms, relay_only}`. */
  | 'turn_error'
  /** The tube closed itself (creation timeout, no relay possible): JSON `{close_reason, message}`. */
  | 'tube_closed';

export interface Signal {
  tubeId: string;
  kind: SignalKind;
  data: string;
  conversationId: string;
}

export type SignalCallback = (signal: Signal) => void;
