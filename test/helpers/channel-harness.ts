/**
 * A `Channel` on one end of an in-memory port pair, and a raw peer on the other end that speaks frames as
 * bytes (the way ws feeds its receiver): `peer.send(hex)` / `peer.sendFrame(conn, payloadHex)` in, every
 * frame the channel sent out as `peer.frames` (and `peer.log()`, one readable line per frame).
 */
import { type Duplex, duplexPair } from 'node:stream';
import { Channel } from '../../src/channel/channel.ts';
import type { Opener } from '../../src/channel/opener.ts';
import type { ChannelLimits, ChannelOutcome } from '../../src/channel/types.ts';
import { silentLogger } from '../../src/log.ts';
import { parseControl } from '../../src/protocol/control.ts';
import { ManualClock, type MemoryPort, memoryPortPair } from './memory-port.ts';

/** Hex with spaces allowed. */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** One frame: conn_no u32, timestamp u64 (0 here), length u32, payload, ';'. */
export function frame(connNo: number, payload: Uint8Array | string): Buffer {
  const body = typeof payload === 'string' ? hex(payload) : payload;
  const out = Buffer.alloc(17 + body.length);
  out.writeUInt32BE(connNo, 0);
  out.writeUInt32BE(body.length, 12);
  out.set(body, 16);
  out[16 + body.length] = 0x3b;
  return out;
}

export interface SentFrame {
  connNo: number;
  payload: Buffer;
  /** The whole message as the port carried it. */
  bytes: number;
}

/** A readable line for one outgoing frame: `data 1 "hello"`, `close 1 9 "…"`, `open 1`, `ping 0 keepalive`… */
export function describe(f: SentFrame): string {
  if (f.connNo !== 0) return `data ${f.connNo} ${f.payload.length}`;
  const m = parseControl(f.payload);
  if (m instanceof Error) return `malformed ${f.payload.toString('hex')}`;
  switch (m.type) {
    case 'ping':
      return `ping ${m.connNo} ${Buffer.from(m.body).subarray(0, 6).toString('latin1') === 'TUBES?' ? 'probe' : m.body.length === 8 ? 'keepalive' : Buffer.from(m.body).toString('hex')}`;
    case 'pong':
      return `pong ${m.connNo} ${Buffer.from(m.body).toString('hex')}`;
    case 'open':
      return m.tail.length ? `open ${m.connNo} ${Buffer.from(m.tail).toString('hex')}` : `open ${m.connNo}`;
    case 'close':
      return m.message === undefined
        ? `close ${m.connNo} ${m.reason}`
        : `close ${m.connNo} ${m.reason} ${JSON.stringify(m.message)}`;
    case 'metrics-request':
    case 'metrics-response':
    case 'metrics-config':
    case 'unknown':
      return m.type;
    default:
      return `${m.type} ${m.connNo}`;
  }
}

export class RawPeer {
  readonly port: MemoryPort;
  readonly frames: SentFrame[] = [];
  closed = false;

  constructor(port: MemoryPort) {
    this.port = port;
    port.setHandlers({
      message: (d) => {
        const b = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
        const len = b.readUInt32BE(12);
        this.frames.push({ connNo: b.readUInt32BE(0), payload: b.subarray(16, 16 + len), bytes: b.length });
      },
      drain: () => {},
      open: () => {},
      close: () => {
        this.closed = true;
      },
    });
  }

  send(bytes: Uint8Array | string): void {
    this.port.send(typeof bytes === 'string' ? hex(bytes) : bytes);
  }

  sendFrame(connNo: number, payload: Uint8Array | string): void {
    this.port.send(frame(connNo, payload));
  }

  /** Every frame received so far as readable lines (data frames as `data <conn> <bytes>`). */
  log(): string[] {
    return this.frames.map(describe);
  }

  /** Control lines only, without the capability probe and keepalive pings. */
  controls(): string[] {
    return this.log().filter(
      (l) => !l.startsWith('data ') && l !== 'ping 0 probe' && l !== 'ping 0 keepalive',
    );
  }

  /** The payload bytes of connection `connNo`, concatenated. */
  dataOf(connNo: number): Buffer {
    return Buffer.concat(this.frames.filter((f) => f.connNo === connNo).map((f) => f.payload));
  }
}

export interface Harness {
  channel: Channel;
  a: MemoryPort;
  peer: RawPeer;
  clock: ManualClock;
  ends: [ChannelOutcome, number | undefined][];
  timeouts: number;
  open(): void;
  /** Delivers everything queued in both directions, synchronously. */
  exchange(): void;
}

export interface HarnessOptions {
  role: 'server' | 'client';
  limits?: Partial<ChannelLimits>;
  opener?: Opener;
  maxMessageSize?: number;
  /** Open the port pair at once (default true). */
  open?: boolean;
}

export function harness(options: HarnessOptions): Harness {
  const pair = memoryPortPair('conv-1', options.maxMessageSize ?? 65536);
  const clock = new ManualClock();
  const h = {
    a: pair.a,
    clock,
    ends: [] as [ChannelOutcome, number | undefined][],
    timeouts: 0,
    open: () => pair.open(),
    exchange: () => {
      for (let i = 0; i < 4; i++) {
        pair.b.deliver();
        pair.a.deliver();
      }
    },
  } as Harness;
  h.peer = new RawPeer(pair.b);
  h.channel = new Channel({
    port: pair.a,
    role: options.role,
    logger: silentLogger(),
    verbose: false,
    limits: options.limits,
    clock,
    opener: options.opener,
    onEnd: (outcome, reason) => void h.ends.push([outcome, reason]),
    onPeerTimeout: () => void h.timeouts++,
    onOpen: () => {},
    onTransportClose: () => {},
  });
  if (options.open !== false) pair.open();
  return h;
}

/** Polls (one macrotask per round) until `cond` holds; fails after `ms` of real time. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Lets pending stream events and port deliveries run (a few macrotasks). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A local stream for the channel (`inner`) and the test's end of it (`outer`). */
export function streamPair(): { inner: Duplex; outer: Duplex } {
  const [inner, outer] = duplexPair();
  return { inner, outer };
}

/** A promise with its resolve/reject exposed. */
export function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
