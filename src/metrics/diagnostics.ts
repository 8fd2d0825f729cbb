/**
 * node:diagnostics_channel publications (the undici pattern): free when nobody subscribes, and the way
 * hosts, metrics exporters and tests observe connection lifecycles without hooks in the hot path.
 *
 * - `webrtc-tubes:connection:open`  { channelId, connNo, role }
 * - `webrtc-tubes:connection:close` { channelId, connNo, role, reason, message, initiator: 'local' | 'remote' }
 * - `webrtc-tubes:frame:discard`    { channelId, code, message }
 *
 * `connection:close` comes once per connection on each side that learns of the close: `local` where the
 * CloseConnection is sent (an orderly close, a refusal, a cap, or a socket that went away without one, e.g.
 * a client's reset), `remote` where it is received.
 */
import diagnostics from 'node:diagnostics_channel';

export const connectionOpenChannel = diagnostics.channel('webrtc-tubes:connection:open');
export const connectionCloseChannel = diagnostics.channel('webrtc-tubes:connection:close');
export const frameDiscardChannel = diagnostics.channel('webrtc-tubes:frame:discard');

export interface ConnectionOpenMessage {
  channelId: string;
  connNo: number;
  role: 'server' | 'client';
}

export interface ConnectionCloseMessage extends ConnectionOpenMessage {
  reason: number;
  message: string | undefined;
  initiator: 'local' | 'remote';
}

export interface FrameDiscardMessage {
  channelId: string;
  code: string;
  message: string;
}
