/** Signals delivered to the host's `onSignal` callback, in the original's kinds and data formats (docs/ORIGINAL.md, “The host API”; docs/API.md). */
export type SignalKind =
  | 'icecandidate'
  | 'connection_state_changed'
  | 'channel_closed'
  | 'guacd_instruction'
  | 'ice_restart_offer';

export interface Signal {
  tubeId: string;
  kind: SignalKind;
  data: string;
  conversationId: string;
}

export type SignalCallback = (signal: Signal) => void;
