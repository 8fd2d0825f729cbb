/**
 * Fragmentation (docs/ORIGINAL.md, "Fragmentation"): when both peers enable it (`enableMultiChannel`; the
 * original never negotiates it on the wire), an encoded frame larger than 16,384 bytes travels as several
 * data-channel messages, each a 9-byte header + a chunk of at most 16,375 bytes of the encoded frame:
 *
 *   flags u8 (0x01 always, 0x02 first, 0x04 last) | seq_id u32 BE | frag_idx u16 BE | total_frags u16 BE
 *
 * `seq_id` comes from one process-wide counter shared by every channel. At most 256 fragments: larger frames
 * go unfragmented. A receiver with fragmentation on treats any message whose first byte has bit 0x01 set as a
 * fragment (an unfragmented frame starts with the high byte of conn_no, 0 in practice).
 *
 * The original keeps incomplete sets forever; the reassembler here bounds them: sets older than
 * `timeoutMs` are dropped (checked lazily when messages arrive, no timers), at most `maxSets` sets and
 * `maxBytes` bytes are held (the oldest set goes first).
 */

export const FRAGMENT_HEADER_BYTES = 9;
/** Encoded frames above this are fragmented. */
export const FRAGMENT_THRESHOLD = 16_384;
/** Bytes of the encoded frame per fragment. */
export const FRAGMENT_CHUNK_BYTES = FRAGMENT_THRESHOLD - FRAGMENT_HEADER_BYTES;
/** More fragments than this: the frame is sent whole. */
export const MAX_FRAGMENTS = 256;

export const FragmentFlag = {
  HasHeader: 0x01,
  First: 0x02,
  Last: 0x04,
} as const;

export interface FragmentHeader {
  flags: number;
  seqId: number;
  index: number;
  total: number;
}

let nextSeq = 0;

/** The next sequence id of the process-wide counter (starts at 0, wraps at 2^32). */
export function nextFragmentSeq(): number {
  const seq = nextSeq;
  nextSeq = (nextSeq + 1) >>> 0;
  return seq;
}

export function encodeFragmentHeader(out: Uint8Array, at: number, h: FragmentHeader): void {
  out[at] = h.flags;
  out[at + 1] = h.seqId >>> 24;
  out[at + 2] = (h.seqId >>> 16) & 0xff;
  out[at + 3] = (h.seqId >>> 8) & 0xff;
  out[at + 4] = h.seqId & 0xff;
  out[at + 5] = h.index >>> 8;
  out[at + 6] = h.index & 0xff;
  out[at + 7] = h.total >>> 8;
  out[at + 8] = h.total & 0xff;
}

/** The header of a fragment message, or undefined when the message is too short to carry one. */
export function parseFragmentHeader(msg: Uint8Array): FragmentHeader | undefined {
  if (msg.length < FRAGMENT_HEADER_BYTES) return undefined;
  return {
    flags: msg[0] as number,
    seqId:
      (((msg[1] as number) << 24) |
        ((msg[2] as number) << 16) |
        ((msg[3] as number) << 8) |
        (msg[4] as number)) >>>
      0,
    index: ((msg[5] as number) << 8) | (msg[6] as number),
    total: ((msg[7] as number) << 8) | (msg[8] as number),
  };
}

/** A receiver with fragmentation on reads a message as a fragment when its first byte has bit 0x01 set. */
export function isFragment(msg: Uint8Array): boolean {
  return msg.length > 0 && ((msg[0] as number) & FragmentFlag.HasHeader) !== 0;
}

/**
 * Splits an encoded frame into fragment messages (each a fresh buffer the caller hands to send()). Returns
 * undefined when the frame is sent as it is: ≤ 16,384 bytes, or more than 256 fragments.
 */
export function fragmentFrame(frame: Uint8Array, seqId: number = nextFragmentSeq()): Buffer[] | undefined {
  if (frame.length <= FRAGMENT_THRESHOLD) return undefined;
  const total = Math.ceil(frame.length / FRAGMENT_CHUNK_BYTES);
  if (total > MAX_FRAGMENTS) return undefined;
  const out: Buffer[] = [];
  for (let index = 0; index < total; index++) {
    const from = index * FRAGMENT_CHUNK_BYTES;
    const chunk = frame.subarray(from, Math.min(frame.length, from + FRAGMENT_CHUNK_BYTES));
    const msg = Buffer.allocUnsafe(FRAGMENT_HEADER_BYTES + chunk.length);
    const flags =
      FragmentFlag.HasHeader |
      (index === 0 ? FragmentFlag.First : 0) |
      (index === total - 1 ? FragmentFlag.Last : 0);
    encodeFragmentHeader(msg, 0, { flags, seqId, index, total });
    msg.set(chunk, FRAGMENT_HEADER_BYTES);
    out.push(msg);
  }
  return out;
}

export interface ReassemblerOptions {
  /** An incomplete set older than this is dropped (default 30 s, the original's unused assembler default). */
  timeoutMs?: number;
  /** Incomplete sets held at once (default 1,000). */
  maxSets?: number;
  /** Bytes held in incomplete sets (default 32 MiB). */
  maxBytes?: number;
}

interface PendingSet {
  readonly total: number;
  readonly chunks: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  readonly firstAt: number;
}

export interface ReassemblerStats {
  /** Sets completed. */
  completed: number;
  /** Fragments ignored: duplicates, too short, index ≥ total, a total that disagrees with its set. */
  ignored: number;
  /** Incomplete sets dropped (timeout or memory bound). */
  dropped: number;
}

/**
 * Collects fragments by seq_id in any order, ignores duplicates, and returns the encoded frame bytes when a
 * set is complete (to be fed to the frame decoder like any message).
 */
export class FragmentReassembler {
  readonly #timeoutMs: number;
  readonly #maxSets: number;
  readonly #maxBytes: number;
  /** Insertion order = age order (Map keeps it), so the oldest set is the first key. */
  readonly #sets = new Map<number, PendingSet>();
  #bytes = 0;
  #lastSweep = 0;
  readonly stats: ReassemblerStats = { completed: 0, ignored: 0, dropped: 0 };

  constructor(options: ReassemblerOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxSets = options.maxSets ?? 1_000;
    this.#maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
  }

  /** Incomplete sets held. */
  get pendingSets(): number {
    return this.#sets.size;
  }

  /** Bytes held in incomplete sets. */
  get pendingBytes(): number {
    return this.#bytes;
  }

  /**
   * One fragment message. Returns the reassembled frame bytes when this completed its set, else undefined.
   * The message's bytes are copied: the caller may reuse it.
   */
  push(msg: Uint8Array, now: number = Date.now()): Buffer | undefined {
    if (now - this.#lastSweep >= 1_000) this.#sweep(now);
    const h = parseFragmentHeader(msg);
    if (!h || h.total === 0 || h.index >= h.total) {
      this.stats.ignored++;
      return undefined;
    }
    const chunk = msg.subarray(FRAGMENT_HEADER_BYTES);
    if (h.total === 1) {
      this.stats.completed++;
      return Buffer.from(chunk);
    }
    let set = this.#sets.get(h.seqId);
    if (set && set.total !== h.total) {
      // a reused seq_id (the counter wrapped, or a new sender): the old set cannot complete any more
      this.#drop(h.seqId, set);
      set = undefined;
    }
    if (!set) {
      set = { total: h.total, chunks: new Array(h.total), received: 0, bytes: 0, firstAt: now };
      this.#sets.set(h.seqId, set);
    }
    if (set.chunks[h.index] !== undefined) {
      this.stats.ignored++;
      return undefined;
    }
    set.chunks[h.index] = Buffer.from(chunk);
    set.received++;
    set.bytes += chunk.length;
    this.#bytes += chunk.length;
    if (set.received === set.total) {
      this.#sets.delete(h.seqId);
      this.#bytes -= set.bytes;
      this.stats.completed++;
      return Buffer.concat(set.chunks as Uint8Array[], set.bytes);
    }
    this.#bound(h.seqId);
    return undefined;
  }

  /** Drops every incomplete set. */
  clear(): void {
    this.#sets.clear();
    this.#bytes = 0;
  }

  #drop(seqId: number, set: PendingSet): void {
    this.#sets.delete(seqId);
    this.#bytes -= set.bytes;
    this.stats.dropped++;
  }

  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [seqId, set] of this.#sets) {
      if (now - set.firstAt < this.#timeoutMs) break; // the rest are younger
      this.#drop(seqId, set);
    }
  }

  /** Keeps within maxSets / maxBytes by dropping the oldest sets, never the one just added to. */
  #bound(current: number): void {
    while (this.#sets.size > this.#maxSets || this.#bytes > this.#maxBytes) {
      let victim: number | undefined;
      for (const k of this.#sets.keys()) {
        if (k !== current) {
          victim = k;
          break;
        }
      }
      if (victim === undefined) {
        const set = this.#sets.get(current) as PendingSet;
        if (this.#bytes <= this.#maxBytes) return;
        this.#drop(current, set); // one set alone is over the byte bound
        return;
      }
      this.#drop(victim, this.#sets.get(victim) as PendingSet);
    }
  }
}
