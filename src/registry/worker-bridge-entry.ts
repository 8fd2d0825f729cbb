/**
 * The worker end of embedded connections in worker mode (worker-bridge.ts). Each connection here has its own
 * TubeStream, made by the channel as in-thread (openConnection: `Channel.openStream`; handler mode: the
 * tube's handler); a WorkerEnd relays it to the host's stream on the registry's thread and back, with
 * credit-based flow control on both directions.
 */
import { DeferredAccept, type TubeStream } from '../channel/tube-stream.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { LocalTube } from './local-tube.ts';
import type { ConnectionInfo } from './tube.ts';
import { toWireError } from './wire.ts';
import { BRIDGE_ACK_BATCH, BRIDGE_WINDOW, transferable } from './worker-bridge.ts';
import type { StreamToHost, StreamToWorker } from './worker-protocol.ts';

type Post = (msg: StreamToHost, transfer?: ArrayBuffer[]) => void;

interface Decision {
  resolve(): void;
  reject(err: Error): void;
}

class WorkerEnd {
  readonly #sid: number;
  readonly #stream: TubeStream;
  readonly #post: Post;
  readonly #forget: (sid: number) => void;
  /** Handler mode: settles the channel's DeferredAccept (the host's handler returned, or threw). */
  #decision: Decision | undefined;
  /** Bytes the host still takes before it acknowledges. */
  #credit = BRIDGE_WINDOW;
  /** Bytes from the host the stream sent on, and how many of them were acknowledged. */
  #written = 0;
  #acked = 0;
  /** Writes from the host the stream has not sent on yet (held while the connection is paused). */
  #unsent = 0;
  /** The host closed it: nothing to report back. */
  #hostClosed = false;
  /** The host closed it with Normal while writes were unsent: destroyed once they went out. */
  #closeWhenSent = false;
  #error: Error | undefined;

  constructor(
    sid: number,
    stream: TubeStream,
    post: Post,
    forget: (sid: number) => void,
    decision?: Decision,
  ) {
    this.#sid = sid;
    this.#stream = stream;
    this.#post = post;
    this.#forget = forget;
    this.#decision = decision;
  }

  start(): void {
    const stream = this.#stream;
    stream.on('data', (chunk: Buffer) => this.#streamOnData(chunk));
    stream.on('end', () => this.#post({ sid: this.#sid, t: 'eof' }));
    stream.on('error', (err: Error) => {
      this.#error ??= err;
    });
    // Closed before this end was attached (e.g. the peer's close came with its ConnectionOpened).
    if (stream.closed) this.#streamOnClose();
    else stream.on('close', () => this.#streamOnClose());
  }

  #streamOnData(chunk: Buffer): void {
    const b = transferable(chunk);
    this.#credit -= chunk.byteLength;
    this.#post({ sid: this.#sid, t: 'data', b }, [b]);
    // The stream's buffer fills from here on; past the flow high-water mark it sends FlowPause to the peer.
    if (this.#credit <= 0) this.#stream.pause();
  }

  #streamOnClose(): void {
    this.#forget(this.#sid);
    this.#decide(); // closed before the host decided: nothing left to accept
    if (this.#hostClosed) return;
    const reason = this.#stream.closeReason ?? CloseConnectionReason.Normal;
    const error = this.#error ?? this.#stream.errored;
    this.#post({ sid: this.#sid, t: 'close', reason, message: error?.message });
  }

  #decide(err?: Error): void {
    const decision = this.#decision;
    this.#decision = undefined;
    if (!decision) return;
    if (err) decision.reject(err);
    else decision.resolve();
  }

  #sentOn(n: number): void {
    this.#written += n;
    const pending = this.#written - this.#acked;
    if (pending < BRIDGE_ACK_BATCH) return;
    this.#acked = this.#written;
    this.#post({ sid: this.#sid, t: 'ack', n: pending });
  }

  /** The host's side of the connection (the open itself is handled by WorkerBridge). */
  fromHost(msg: StreamToWorker): void {
    const stream = this.#stream;
    switch (msg.t) {
      case 'data': {
        if (stream.writableEnded || stream.destroyed) return; // closed meanwhile; the host learns it next
        const n = msg.b.byteLength;
        this.#unsent++;
        stream.write(Buffer.from(msg.b), (err) => {
          this.#unsent--;
          if (!err) this.#sentOn(n);
          if (this.#closeWhenSent && this.#unsent === 0) stream.destroy();
        });
        return;
      }
      case 'ack':
        this.#credit += msg.n;
        if (this.#credit > 0 && stream.isPaused()) stream.resume();
        return;
      case 'eof':
        if (!stream.writableEnded && !stream.destroyed) stream.end();
        return;
      case 'accept':
        this.#decide();
        return;
      case 'refuse':
        this.#hostClosed = true;
        this.#decide(Object.assign(new Error(msg.message), { closeReason: msg.reason }));
        return;
      case 'abort':
        this.#hostClosed = true;
        // Aborted as 'opened' crossed it: as an in-thread abort after open (Client).
        stream.destroy(
          Object.assign(new Error('The operation was aborted'), {
            closeReason: CloseConnectionReason.Client,
          }),
        );
        return;
      case 'close':
        this.#hostClosed = true;
        if (msg.message === undefined && this.#unsent > 0) {
          // The host's destroy() (or both sides ended): what it wrote was "sent" on its side, so it goes out
          // first, as in-thread, where a write's callback means its frames were sent.
          this.#closeWhenSent = true;
          return;
        }
        // As the host's own destroy(): no text = destroy() (Normal); else destroy(err) with its reason.
        stream.destroy(
          msg.message === undefined
            ? undefined
            : Object.assign(new Error(msg.message), { closeReason: msg.reason }),
        );
        return;
      default:
        return;
    }
  }
}

export class WorkerBridge {
  readonly #post: Post;
  readonly #tubeOf: (tubeId: string) => LocalTube | undefined;
  readonly #ends = new Map<number, WorkerEnd>();
  /** openConnection calls not answered yet, by sid. */
  readonly #opening = new Map<number, AbortController>();
  #nextSid = -1;

  constructor(post: Post, tubeOf: (tubeId: string) => LocalTube | undefined) {
    this.#post = post;
    this.#tubeOf = tubeOf;
  }

  readonly #forget = (sid: number): void => void this.#ends.delete(sid);

  onMessage(msg: StreamToWorker): void {
    switch (msg.t) {
      case 'open':
        this.#open(msg.sid, msg.tubeId, msg.conversationId, msg.tail);
        return;
      case 'abort': {
        const opening = this.#opening.get(msg.sid);
        if (opening)
          opening.abort(); // the channel rejects the open and closes the connection with Client
        else this.#ends.get(msg.sid)?.fromHost(msg);
        return;
      }
      default:
        this.#ends.get(msg.sid)?.fromHost(msg);
    }
  }

  #open(sid: number, tubeId: string, conversationId: string, tail: Uint8Array | undefined): void {
    const tube = this.#tubeOf(tubeId);
    if (!tube) {
      const error = toWireError(new TubesError(ErrorCode.TUBE_NOT_FOUND, `Tube not found: ${tubeId}`));
      this.#post({ sid, t: 'failed', error });
      return;
    }
    const abort = new AbortController();
    this.#opening.set(sid, abort);
    tube.openConnection(conversationId, abort.signal, tail).then(
      (stream) => {
        this.#opening.delete(sid);
        this.#post({ sid, t: 'opened', connNo: stream.connNo });
        const end = new WorkerEnd(sid, stream, this.#post, this.#forget);
        this.#ends.set(sid, end);
        end.start();
      },
      (err: unknown) => {
        this.#opening.delete(sid);
        this.#post({ sid, t: 'failed', error: toWireError(err) });
      },
    );
  }

  /**
   * The handler of a handler-mode tube in this worker: the connection goes to the registry's thread, where the
   * host's handler runs; the channel sends ConnectionOpened once that handler returned (DeferredAccept).
   */
  readonly incoming = (stream: TubeStream, info: ConnectionInfo): DeferredAccept => {
    const sid = this.#nextSid--;
    let decision: Decision = { resolve: () => {}, reject: () => {} };
    const decided = new Promise<void>((resolve, reject) => {
      decision = { resolve, reject };
    });
    const end = new WorkerEnd(sid, stream, this.#post, this.#forget, decision);
    this.#ends.set(sid, end);
    this.#post({
      sid,
      t: 'incoming',
      tubeId: info.tubeId,
      conversationId: info.conversationId,
      connNo: info.connNo,
    });
    end.start();
    return new DeferredAccept(decided);
  };
}
