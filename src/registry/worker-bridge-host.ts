/**
 * The registry-thread end of embedded connections in worker mode (worker-bridge.ts): `openConnection` and
 * handler mode (`onConnection`) for tubes that run in workers. The host gets a TubeStream as in-thread; its
 * owner here is a HostEnd, which turns the stream's calls into stream messages to the worker and the worker's
 * messages into the stream's (deliver, deliverEnd, resumeWrites, detach). One HostBridge per worker backend.
 */
import { abortError, addAbortListener } from '../channel/channel.ts';
import { closeReasonOfError, TubeStream, type TubeStreamOwner } from '../channel/tube-stream.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { ConnectionInfo } from './tube.ts';
import { fromWireError } from './wire.ts';
import { BRIDGE_ACK_BATCH, BRIDGE_WINDOW, transferable } from './worker-bridge.ts';
import type { PoolWorker } from './worker-pool.ts';
import type { StreamToHost, StreamToWorker } from './worker-protocol.ts';

/** What the bridge needs of a worker's tube: its handler (handler mode). */
export interface BridgedTube {
  readonly onConnection: ((stream: TubeStream, info: ConnectionInfo) => void) | undefined;
}

type Worker = PoolWorker<BridgedTube>;

interface PendingOpen {
  conversationId: string;
  signal: AbortSignal | undefined;
  /** The signal fired: the caller has its rejection; whatever the worker answers is dropped. */
  aborted: boolean;
  onAbort: () => void;
  resolve(stream: TubeStream): void;
  reject(err: Error): void;
}

/** One worker's embedded connections, by sid. */
interface Links {
  readonly worker: Worker;
  readonly ends: Map<number, HostEnd>;
  readonly opening: Map<number, PendingOpen>;
}

function send(links: Links, msg: StreamToWorker, transfer?: ArrayBuffer[]): void {
  if (links.worker.exitError) return; // its streams are detached on exit
  links.worker.worker.postMessage(msg, transfer);
}

/** The owner of a host's TubeStream whose connection lives in a worker. */
class HostEnd implements TubeStreamOwner {
  readonly connNo: number;
  readonly #links: Links;
  readonly #sid: number;
  stream: TubeStream | undefined;
  /** Handler mode: false while the host's handler runs (its writes wait, as in-thread). */
  #accepted: boolean;
  /** Bytes the worker still takes before it acknowledges. */
  #credit = BRIDGE_WINDOW;
  #received = 0;
  #acked = 0;
  #ackPending = false;

  constructor(links: Links, sid: number, connNo: number, accepted: boolean) {
    this.#links = links;
    this.#sid = sid;
    this.connNo = connNo;
    this.#accepted = accepted;
  }

  get paused(): boolean {
    return !this.#accepted || this.#credit <= 0;
  }

  // ---- the host's stream ------------------------------------------------------------------------------

  streamData(chunk: Buffer): void {
    const b = transferable(chunk);
    this.#credit -= chunk.byteLength;
    send(this.#links, { sid: this.#sid, t: 'data', b }, [b]);
  }

  streamEnd(): void {
    send(this.#links, { sid: this.#sid, t: 'eof' });
  }

  /**
   * The host reads (Readable's _read): acknowledge what it took out of the stream, a batch at a time. Node
   * calls _read before it takes the chunk it returns, so what was taken is counted on the next tick (one
   * pending tick per stream at most).
   */
  streamRead(): void {
    if (this.#ackPending) return;
    this.#ackPending = true;
    process.nextTick(this.#ack);
  }

  readonly #ack = (): void => {
    this.#ackPending = false;
    const stream = this.stream;
    if (!stream || stream.destroyed) return;
    const consumed = this.#received - stream.readableLength;
    const n = consumed - this.#acked;
    if (n < BRIDGE_ACK_BATCH) return;
    this.#acked = consumed;
    send(this.#links, { sid: this.#sid, t: 'ack', n });
  };

  streamClosed(reason: number, message: string | undefined): void {
    this.#links.ends.delete(this.#sid);
    send(this.#links, { sid: this.#sid, t: 'close', reason, message });
  }

  // ---- the worker --------------------------------------------------------------------------------------

  /** The host's handler returned without refusing: ConnectionOpened goes out, then its held writes. */
  accept(): void {
    send(this.#links, { sid: this.#sid, t: 'accept' });
    this.#accepted = true;
    this.stream?.resumeWrites();
  }

  fromWorker(msg: StreamToHost): void {
    const stream = this.stream;
    if (!stream) return;
    switch (msg.t) {
      case 'data':
        this.#received += msg.b.byteLength;
        stream.deliver(Buffer.from(msg.b));
        return;
      case 'ack': {
        const wasPaused = this.paused;
        this.#credit += msg.n;
        if (wasPaused && !this.paused) stream.resumeWrites();
        return;
      }
      case 'eof':
        stream.deliverEnd();
        return;
      case 'close':
        this.#links.ends.delete(this.#sid);
        stream.detach(msg.reason, msg.message);
        return;
      default:
        return;
    }
  }
}

export class HostBridge {
  readonly #links = new Map<Worker, Links>();
  readonly #logger: Logger;
  #nextSid = 1;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  #linksOf(worker: Worker): Links {
    let links = this.#links.get(worker);
    if (!links) {
      links = { worker, ends: new Map(), opening: new Map() };
      this.#links.set(worker, links);
    }
    return links;
  }

  /** openConnection on a tube of `worker`: resolves with the stream once the peer answered ConnectionOpened. */
  open(
    worker: Worker,
    tubeId: string,
    conversationId: string,
    signal: AbortSignal | undefined,
    tail: Uint8Array | undefined,
  ): Promise<TubeStream> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (worker.exitError) return Promise.reject(worker.exitError);
    const links = this.#linksOf(worker);
    const sid = this.#nextSid++;
    return new Promise<TubeStream>((resolve, reject) => {
      const pending: PendingOpen = {
        conversationId,
        signal,
        aborted: false,
        onAbort: () => {
          pending.aborted = true;
          reject(abortError(signal as AbortSignal));
          send(links, { sid, t: 'abort' }); // the worker closes the connection with Client
        },
        resolve,
        reject,
      };
      links.opening.set(sid, pending);
      signal?.addEventListener('abort', pending.onAbort, { once: true });
      send(links, { sid, t: 'open', tubeId, conversationId, tail });
    });
  }

  /** A stream message from `worker`. */
  fromWorker(worker: Worker, msg: StreamToHost): void {
    const links = this.#linksOf(worker);
    switch (msg.t) {
      case 'opened':
        this.#opened(links, msg.sid, msg.connNo);
        return;
      case 'failed': {
        const pending = links.opening.get(msg.sid);
        if (!pending) return;
        links.opening.delete(msg.sid);
        pending.signal?.removeEventListener('abort', pending.onAbort);
        if (!pending.aborted) pending.reject(fromWireError(msg.error));
        return;
      }
      case 'incoming':
        this.#incoming(links, msg.sid, msg.tubeId, msg.conversationId, msg.connNo);
        return;
      default:
        links.ends.get(msg.sid)?.fromWorker(msg);
    }
  }

  #opened(links: Links, sid: number, connNo: number): void {
    const pending = links.opening.get(sid);
    if (!pending) return;
    links.opening.delete(sid);
    pending.signal?.removeEventListener('abort', pending.onAbort);
    if (pending.aborted) return; // the worker got 'abort' right after: it closes the connection (Client)
    const end = new HostEnd(links, sid, connNo, true);
    const stream = new TubeStream(end, pending.conversationId, CloseConnectionReason.Error);
    end.stream = stream;
    links.ends.set(sid, end);
    if (pending.signal) addAbortListener(pending.signal, stream);
    pending.resolve(stream);
  }

  /** Handler mode: the host's handler runs here, as in-thread (throwing or destroying refuses). */
  #incoming(links: Links, sid: number, tubeId: string, conversationId: string, connNo: number): void {
    const handler = links.worker.tubes.get(tubeId)?.onConnection;
    if (!handler) {
      send(links, { sid, t: 'refuse', reason: CloseConnectionReason.Error, message: 'Tube is closing' });
      return;
    }
    const end = new HostEnd(links, sid, connNo, false);
    const stream = new TubeStream(end, conversationId, CloseConnectionReason.HandlerError);
    end.stream = stream;
    links.ends.set(sid, end);
    try {
      handler(stream, { tubeId, conversationId, connNo });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      links.ends.delete(sid);
      stream.abandon();
      send(links, {
        sid,
        t: 'refuse',
        reason: closeReasonOfError(e, CloseConnectionReason.HandlerError),
        message: e.message,
      });
      return;
    }
    // Destroyed by the handler: its 'close' went to the worker already (a refusal with its reason).
    if (links.ends.get(sid) === end) end.accept();
  }

  /** `worker` is gone: its opens fail, its streams close (Normal when the registry stopped it). */
  workerExited(worker: Worker): void {
    const links = this.#links.get(worker);
    if (!links) return;
    this.#links.delete(worker);
    const err = worker.exitError ?? new TubesError(ErrorCode.CLOSED, `Tube worker ${worker.index} exited`);
    for (const pending of links.opening.values()) {
      pending.signal?.removeEventListener('abort', pending.onAbort);
      if (!pending.aborted) pending.reject(err);
    }
    links.opening.clear();
    const ends = [...links.ends.values()];
    links.ends.clear();
    if (ends.length > 0 && !worker.stopping) {
      this.#logger.warn(
        { worker: worker.index, streams: ends.length },
        'embedded connections lost with their worker',
      );
    }
    const reason = worker.stopping ? CloseConnectionReason.Normal : CloseConnectionReason.Error;
    for (const end of ends) end.stream?.detach(reason, worker.stopping ? undefined : err.message);
  }
}
