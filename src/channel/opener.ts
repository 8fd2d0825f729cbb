/** The gateway's contract with a mode: how an OpenConnection becomes a socket, or is refused. */
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { Connection, ConnectionStream, InboundFilter } from './connection.ts';

/** What a mode's opener may do for the connection it opens. */
export interface OpenContext {
  readonly channelId: string;
  /** Largest payload one data frame may carry toward the peer. */
  readonly maxPayload: number;
  /** How long a dial may take before the open fails (the channel's `connectTimeoutMs`). */
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
  /** Send a payload to the peer as one data frame of this connection (split only above max-message-size). */
  send(payload: Uint8Array): void;
  /** Close this connection with a reason (CloseConnection to the peer, socket torn down). */
  close(reason: number, message?: string): void;
  /** Record a channel-level close reason (critical reasons are kept over later non-critical ones). */
  recordChannelReason(reason: number): void;
  /** End the whole channel (e.g. the primary guacd connection ended). */
  endChannel(reason?: number): void;
  /** Emit a tube signal (e.g. `guacd_instruction`). */
  signal(kind: 'guacd_instruction', data: string): void;
  /** Aborted when the connection is closed (by the peer, or the channel ending) before the open completed. */
  readonly abandoned: AbortSignal;
}

export interface Opened {
  /** A net.Socket, or a Duplex behaving like one (e.g. a UDP relay). */
  socket: ConnectionStream;
  /** Parses/reshapes the socket's bytes before they go to the peer. */
  inbound?: InboundFilter;
}

/**
 * Client (gateway) side: turn an OpenConnection into a socket. Reject with `OpenRefused` to refuse with a
 * close reason; any other error refuses with ConnectionFailed. The message goes to the peer in
 * CloseConnection.
 */
export type Opener = (conn: Connection, tail: Uint8Array, ctx: OpenContext) => Promise<Socket | Opened>;

/** An opener's refusal: the close reason and text the peer receives in CloseConnection. */
export class OpenRefused extends Error {
  readonly closeReason: number;

  constructor(closeReason: number, message: string) {
    super(message);
    this.name = 'OpenRefused';
    this.closeReason = closeReason;
  }
}

/** The reason a failed open is reported with. */
export function refusalReason(err: unknown): number {
  return err instanceof OpenRefused ? err.closeReason : CloseConnectionReason.ConnectionFailed;
}
