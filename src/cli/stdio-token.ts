/**
 * One-line tokens for `--signal stdio`: the offer or the answer (base64 SDP with every candidate in it)
 * and the conversation id, to copy between two terminals or pipe through ssh. `tubes1:` + base64url(JSON).
 */
import { ErrorCode, TubesError } from '../errors.ts';

export const TOKEN_PREFIX = 'tubes1:';
/** Longest token accepted (an SDP with many candidates is a few KiB). */
export const MAX_TOKEN_LENGTH = 64 * 1024;

export interface SignalToken {
  kind: 'offer' | 'answer';
  conversationId: string;
  /** base64 SDP */
  sdp: string;
  /** The gateway's conversation type, in answers (the connecting side checks it). */
  conversationType?: string;
}

export function encodeToken(token: SignalToken): string {
  return TOKEN_PREFIX + Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

function bad(message: string): TubesError {
  return new TubesError(ErrorCode.BAD_ARGUMENT, `Bad signalling token: ${message}`);
}

export function decodeToken(line: string, kind: SignalToken['kind']): SignalToken {
  const text = line.trim();
  if (text.length > MAX_TOKEN_LENGTH) throw bad('too long');
  if (!text.startsWith(TOKEN_PREFIX)) throw bad(`it must start with ${TOKEN_PREFIX}`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw bad('not base64url JSON');
  }
  const t = value as Partial<SignalToken> | null;
  if (!t || typeof t !== 'object') throw bad('not an object');
  if (t.kind !== kind) throw bad(`expected an ${kind}, got ${String(t.kind)}`);
  if (typeof t.conversationId !== 'string' || !isConversationId(t.conversationId))
    throw bad('missing or invalid conversationId');
  if (typeof t.sdp !== 'string' || t.sdp === '') throw bad('missing sdp');
  return {
    kind,
    conversationId: t.conversationId,
    sdp: t.sdp,
    ...(typeof t.conversationType === 'string' ? { conversationType: t.conversationType } : {}),
  };
}

/** Conversation ids the CLI accepts from a peer: 1–128 of [A-Za-z0-9._:-]. */
export function isConversationId(id: string): boolean {
  return /^[A-Za-z0-9._:-]{1,128}$/.test(id);
}
