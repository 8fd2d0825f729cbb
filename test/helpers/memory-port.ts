/**
 * An in-memory `DataChannelPort` pair (no werift) and a manual clock, for driving a `Channel` in unit tests.
 *
 * `send()` queues a message toward the other port and adds to `bufferedAmount`; queued messages are
 * delivered on the next macrotask (or only on `deliver()` while `hold()` is in effect). Delivery lowers
 * `bufferedAmount` and fires `drain` when it falls to `bufferedAmountLowThreshold`, as a data channel's
 * `bufferedamountlow` does. Messages that arrive before handlers are set wait for `setHandlers`, like the
 * werift port. `openPair()` opens both ends; `close()` closes both.
 */
import type { DataChannelHandlers, DataChannelPort } from '../../src/channel/port.ts';
import type { ChannelClock } from '../../src/channel/types.ts';

export class MemoryPort implements DataChannelPort {
  readonly label: string;
  readyState: DataChannelPort['readyState'] = 'connecting';
  bufferedAmount = 0;
  maxMessageSize: number;
  bufferedAmountLowThreshold = 0;
  peer: MemoryPort | undefined;
  /** Messages this port sent (what the other end has received or will receive). */
  sentMessages = 0;
  #handlers: DataChannelHandlers | undefined;
  #outbox: Uint8Array[] = [];
  #inbox: Uint8Array[] = [];
  #held = false;
  #scheduled = false;

  constructor(label: string, maxMessageSize: number) {
    this.label = label;
    this.maxMessageSize = maxMessageSize;
  }

  get drained(): boolean {
    return this.bufferedAmount === 0;
  }

  send(data: Uint8Array): boolean {
    if (this.readyState !== 'open') return false;
    this.#outbox.push(data);
    this.bufferedAmount += data.length;
    this.sentMessages++;
    this.#schedule();
    return true;
  }

  setHandlers(handlers: DataChannelHandlers): void {
    this.#handlers = handlers;
    const inbox = this.#inbox;
    this.#inbox = [];
    for (const m of inbox) handlers.message(m);
    if (this.readyState === 'open') handlers.open();
    else if (this.readyState === 'closed') handlers.close();
  }

  close(): void {
    for (const port of [this, this.peer]) {
      if (!port || port.readyState === 'closed') continue;
      port.readyState = 'closed';
      port.#outbox = [];
      port.bufferedAmount = 0;
      port.#handlers?.close();
    }
  }

  /** Stops automatic delivery from this port (its bufferedAmount then only grows). */
  hold(): void {
    this.#held = true;
  }

  /** Messages sent from this port and not delivered yet. */
  get queued(): number {
    return this.#outbox.length;
  }

  /** Resumes automatic delivery and delivers what is queued. */
  release(): void {
    this.#held = false;
    this.deliver();
  }

  /** Delivers up to `max` queued messages now (all by default). */
  deliver(max = Number.POSITIVE_INFINITY): void {
    const peer = this.peer;
    let n = 0;
    while (this.#outbox.length > 0 && n < max && this.readyState === 'open') {
      const m = this.#outbox.shift() as Uint8Array;
      n++;
      const before = this.bufferedAmount;
      this.bufferedAmount -= m.length;
      if (peer) peer.#receive(m);
      if (before > this.bufferedAmountLowThreshold && this.bufferedAmount <= this.bufferedAmountLowThreshold)
        this.#handlers?.drain();
    }
  }

  #receive(m: Uint8Array): void {
    if (this.readyState === 'closed') return;
    if (this.#handlers) this.#handlers.message(m);
    else this.#inbox.push(m);
  }

  #schedule(): void {
    if (this.#held || this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#held) this.deliver();
    });
  }

  /** Opens this port (fires `open` once handlers are set). */
  open(): void {
    if (this.readyState !== 'connecting') return;
    this.readyState = 'open';
    this.#handlers?.open();
  }
}

export interface MemoryPortPair {
  a: MemoryPort;
  b: MemoryPort;
  /** Opens both ends (`a` first). */
  open(): void;
}

export function memoryPortPair(label = 'conv-1', maxMessageSize = 65536): MemoryPortPair {
  const a = new MemoryPort(label, maxMessageSize);
  const b = new MemoryPort(label, maxMessageSize);
  a.peer = b;
  b.peer = a;
  return {
    a,
    b,
    open: () => {
      a.open();
      b.open();
    },
  };
}

/** A clock whose time moves only by `advance()`; timers due on the way fire in order. */
export class ManualClock implements ChannelClock {
  #now = 1_700_000_000_000;
  #seq = 0;
  readonly #timers = new Map<number, { at: number; every: number; fn: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + ms, every: 0, fn: callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  setInterval(callback: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + ms, every: ms, fn: callback });
    return id;
  }

  clearInterval(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; every: number; fn: () => void }] | undefined;
      for (const entry of this.#timers)
        if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      const [id, t] = next;
      this.#now = t.at;
      if (t.every > 0) t.at += t.every;
      else this.#timers.delete(id);
      t.fn();
    }
    this.#now = until;
  }
}
