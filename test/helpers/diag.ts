/** Collects the library's diagnostics_channel messages during a test. */
import diagnostics from 'node:diagnostics_channel';
import type { ConnectionCloseMessage, FrameDiscardMessage } from '../../src/metrics/diagnostics.ts';

export interface Recorder {
  closes: ConnectionCloseMessage[];
  discards: FrameDiscardMessage[];
  stop(): void;
}

export function recordDiagnostics(): Recorder {
  const closes: ConnectionCloseMessage[] = [];
  const discards: FrameDiscardMessage[] = [];
  const onClose = (m: unknown): void => void closes.push(m as ConnectionCloseMessage);
  const onDiscard = (m: unknown): void => void discards.push(m as FrameDiscardMessage);
  diagnostics.subscribe('webrtc-tubes:connection:close', onClose);
  diagnostics.subscribe('webrtc-tubes:frame:discard', onDiscard);
  return {
    closes,
    discards,
    stop: () => {
      diagnostics.unsubscribe('webrtc-tubes:connection:close', onClose);
      diagnostics.unsubscribe('webrtc-tubes:frame:discard', onDiscard);
    },
  };
}
