/**
 * `Channel` over an in-memory `DataChannelPort` pair (test/helpers/memory-port.ts): no werift, no network
 * except where a real TCP reset is the point. The peer is raw bytes (hex fixtures), timers run on a manual
 * clock, so every test takes milliseconds.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Opened } from '../../src/channel/opener.ts';
import { deferred, frame, harness, settle, streamPair, until } from '../helpers/channel-harness.ts';
import { recordDiagnostics } from '../helpers/diag.ts';

// Control payloads (code u16 + body), as the peer sends them.
const OPEN_1 = '0065 00000001';
const OPEN_2 = '0065 00000002';
const CLOSE_1_NORMAL = '0066 00000001 00';
/** Pong answering our probe: `TUBES!`, version 1, capabilities FlowControl | UdpAssociate. */
const CAPS_FLOW = '0002 00000000 545542455321 01 00000003';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function diagnostics() {
  const rec = recordDiagnostics();
  cleanups.push(() => rec.stop());
  return rec;
}

describe('frames fed as bytes', () => {
  it('a literal OpenConnection frame (timestamp 0) reaches the opener; ConnectionOpened goes back', async () => {
    const { outer, inner } = streamPair();
    const h = harness({ role: 'client', opener: async () => ({ socket: inner }) });
    //        conn_no  timestamp          length   code conn_no  ';'
    h.peer.send('00000000 0000000000000000 00000006 0065 00000001 3b');
    await until(() => h.peer.controls().includes('opened 1'), 'ConnectionOpened');
    h.peer.sendFrame(1, Buffer.from('hello'));
    const got: Buffer[] = [];
    outer.on('data', (d: Buffer) => got.push(d));
    await until(() => Buffer.concat(got).toString() === 'hello', 'data on the target stream');
  });

  it('a corrupt frame stream is discarded and counted, and the channel carries on', async () => {
    const rec = diagnostics();
    const h = harness({ role: 'server' });
    h.peer.send('00000000 0000000000000000 00000002 0001 ff'); // terminator missing
    h.exchange();
    expect(h.channel.stats().framesDiscarded).toBe(1);
    expect(rec.discards).toHaveLength(1);
    h.peer.sendFrame(0, '0001 00000000 abcd'); // Ping conn 0, body abcd: echoed
    h.exchange();
    expect(h.peer.controls()).toContain('pong 0 abcd');
  });
});

describe('open ordering', () => {
  it('server: before the data channel opens nothing is sent; then probe, OpenConnection, data, in order', async () => {
    const h = harness({ role: 'server', open: false });
    const { inner, outer } = streamPair();
    h.channel.acceptLocal(inner);
    outer.write('early');
    await settle();
    expect(h.peer.frames).toHaveLength(0);
    h.open();
    await until(() => h.peer.dataOf(1).length === 5, 'early data');
    expect(h.peer.log()).toEqual(['ping 0 probe', 'open 1', 'data 1 5']);
    expect(h.peer.dataOf(1).toString()).toBe('early');
  });

  it('gateway: data that arrives while its open runs is held and written after, in order; others flow meanwhile', async () => {
    const slow = deferred<Opened>();
    const one = streamPair();
    const two = streamPair();
    const h = harness({
      role: 'client',
      opener: (conn) => (conn.connNo === 1 ? slow.promise : Promise.resolve({ socket: two.inner })),
    });
    h.peer.sendFrame(0, OPEN_1);
    h.peer.sendFrame(1, Buffer.from('a'));
    h.peer.sendFrame(1, Buffer.from('b'));
    h.peer.sendFrame(0, OPEN_2);
    h.peer.sendFrame(2, Buffer.from('x'));
    const gotTwo: Buffer[] = [];
    two.outer.on('data', (d: Buffer) => gotTwo.push(d));
    // Connection 2 opens and streams both ways while connection 1's target is still being reached.
    await until(() => h.peer.controls().includes('opened 2'), 'ConnectionOpened 2');
    await until(() => Buffer.concat(gotTwo).toString() === 'x', 'data to target 2');
    two.outer.write('y');
    await until(() => h.peer.dataOf(2).toString() === 'y', 'data from target 2');
    expect(h.peer.controls()).not.toContain('opened 1');

    const gotOne: Buffer[] = [];
    one.outer.on('data', (d: Buffer) => gotOne.push(d));
    slow.resolve({ socket: one.inner });
    await until(() => h.peer.controls().includes('opened 1'), 'ConnectionOpened 1');
    await until(() => Buffer.concat(gotOne).toString() === 'ab', 'held data, in order');
  });

  it('OpenConnection for conn 0 is ignored: no opener call, nothing sent', async () => {
    let calls = 0;
    const h = harness({
      role: 'client',
      opener: async () => {
        calls++;
        return { socket: streamPair().inner };
      },
    });
    h.peer.sendFrame(0, '0065 00000000');
    h.exchange();
    await settle();
    expect(calls).toBe(0);
    expect(h.peer.controls()).toEqual([]);
  });
});

describe('unknown and duplicate conn_no', () => {
  it('data, Ping, SendEOF, CloseConnection and FlowPause for an unknown connection change nothing and get no answer', async () => {
    const h = harness({ role: 'client', opener: async () => ({ socket: streamPair().inner }) });
    h.peer.sendFrame(7, Buffer.from('lost'));
    h.peer.sendFrame(0, '0001 00000007 abcd'); // Ping conn 7
    h.peer.sendFrame(0, '0068 00000007'); // SendEOF conn 7
    h.peer.sendFrame(0, '0066 00000007 00'); // CloseConnection conn 7
    h.peer.sendFrame(0, '03e9 00000007'); // FlowPause conn 7
    h.exchange();
    await settle();
    expect(h.channel.stats().framesDiscarded).toBe(1);
    expect(h.peer.controls()).toEqual([]);
    expect(h.channel.ended).toBe(false);
    // The same Ping on conn 0 is answered (the rule above is about unknown connections only).
    h.peer.sendFrame(0, '0001 00000000 abcd');
    h.exchange();
    expect(h.peer.controls()).toEqual(['pong 0 abcd']);
  });

  it('a repeated OpenConnection: ignored while opening, answered again once open, refused while closing', async () => {
    const gate = deferred<Opened>();
    let calls = 0;
    const target = streamPair();
    const h = harness({
      role: 'client',
      opener: () => {
        calls++;
        return gate.promise;
      },
    });
    h.peer.sendFrame(0, OPEN_1);
    h.peer.sendFrame(0, OPEN_1);
    h.exchange();
    expect(calls).toBe(1);
    expect(h.peer.controls()).toEqual([]);
    gate.resolve({ socket: target.inner });
    await until(() => h.peer.controls().length === 1, 'ConnectionOpened');
    h.peer.sendFrame(0, OPEN_1);
    h.exchange();
    expect(h.peer.controls()).toEqual(['opened 1', 'opened 1']);

    // The target does not read: after the peer's close the connection stays closing (data still pending).
    h.peer.sendFrame(1, Buffer.alloc(256 * 1024));
    h.peer.sendFrame(0, CLOSE_1_NORMAL);
    h.peer.sendFrame(0, OPEN_1);
    h.exchange();
    expect(calls).toBe(1);
    expect(h.peer.controls().slice(2)).toEqual([
      'close 1 10 "Connection 1 is closing (state: closing), cannot reuse conn_no during cleanup window"',
    ]);
  });
});

describe('close exchange', () => {
  it('the peer closes a connection: the local stream ends, close published as remote, nothing sent back', async () => {
    const rec = diagnostics();
    const h = harness({ role: 'server' });
    const { inner, outer } = streamPair();
    h.channel.acceptLocal(inner);
    let ended = false;
    outer.on('end', () => {
      ended = true;
    });
    outer.resume();
    h.peer.sendFrame(0, '0066 00000001 05 0003 627965'); // CloseConnection(1, Client, "bye")
    await until(() => ended, 'local stream end');
    expect(h.peer.controls()).toEqual(['open 1']);
    expect(rec.closes).toEqual([
      { channelId: 'conv-1', connNo: 1, role: 'server', reason: 5, message: 'bye', initiator: 'remote' },
    ]);
  });

  it('server: the local client half-closes → SendEOF; gateway: the target closes → one CloseConnection(9)', async () => {
    const server = harness({ role: 'server' });
    const local = streamPair();
    server.channel.acceptLocal(local.inner);
    local.outer.end();
    await until(() => server.peer.controls().includes('eof 1'), 'SendEOF');

    const rec = diagnostics();
    const target = streamPair();
    const gateway = harness({ role: 'client', opener: async () => ({ socket: target.inner }) });
    gateway.peer.sendFrame(0, OPEN_1);
    await until(() => gateway.peer.controls().includes('opened 1'), 'opened');
    target.outer.end();
    target.outer.resume();
    await until(() => gateway.peer.controls().length === 2, 'CloseConnection');
    await settle();
    expect(gateway.peer.controls()).toEqual([
      'opened 1',
      'close 1 9 "Backend connection closed unexpectedly"',
    ]);
    expect(rec.closes.map((c) => [c.connNo, c.reason, c.initiator])).toEqual([[1, 9, 'local']]);
  });

  it('close(reason): every connection closed Normal, then CloseConnection(0, reason); one typed outcome', async () => {
    const h = harness({ role: 'server' });
    h.channel.acceptLocal(streamPair().inner);
    h.channel.acceptLocal(streamPair().inner);
    h.channel.close(12);
    h.channel.close(12);
    h.exchange();
    expect(h.peer.controls()).toEqual(['open 1', 'open 2', 'close 1 0', 'close 2 0', 'close 0 12']);
    expect(h.ends).toEqual([['normal_exit', 12]]);
    // After the end, frames from the peer are ignored.
    h.peer.sendFrame(0, '0001 00000000 abcd');
    h.exchange();
    expect(h.peer.controls()).toHaveLength(5);
  });

  it('a critical reason ends the channel as critical_upstream_closed; the peer closing conn 0 ends it without a reply', () => {
    const critical = harness({ role: 'server' });
    critical.channel.close(14);
    expect(critical.ends).toEqual([['critical_upstream_closed: conv-1', 14]]);

    const h = harness({ role: 'server' });
    h.channel.acceptLocal(streamPair().inner);
    h.peer.sendFrame(0, '0066 00000000 0b'); // CloseConnection(0, TunnelClosed)
    h.exchange();
    expect(h.channel.ended).toBe(true);
    expect(h.ends).toEqual([['normal_exit', 11]]);
    expect(h.peer.controls()).toEqual(['open 1']);
  });

  it('a local client that resets its TCP connection (offerer side): CloseConnection to the peer and a published close', async () => {
    const rec = diagnostics();
    const h = harness({ role: 'server' });
    const server = net.createServer((s) => void h.channel.acceptLocal(s));
    cleanups.push(() => server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    await until(() => h.peer.controls().includes('open 1'), 'OpenConnection');
    client.resetAndDestroy();
    await until(() => h.peer.controls().includes('close 1 0'), 'CloseConnection after the reset');
    await until(() => rec.closes.length > 0, 'published close');
    expect(rec.closes).toEqual([
      {
        channelId: 'conv-1',
        connNo: 1,
        role: 'server',
        reason: 0,
        message: undefined,
        initiator: 'local',
      },
    ]);
  });
});

describe('flow control toward TCP', () => {
  const KiB256 = Buffer.alloc(256 * 1024, 0x61);

  async function gatewayWithSlowTarget(caps: boolean) {
    const target = streamPair();
    const h = harness({ role: 'client', opener: async () => ({ socket: target.inner }) });
    if (caps) h.peer.sendFrame(0, CAPS_FLOW);
    h.peer.sendFrame(0, OPEN_1);
    await until(() => h.peer.controls().includes('opened 1'), 'opened');
    return { h, target };
  }

  it('FlowPause once the pending bytes pass flowHighWater (1 MiB), FlowResume when the target drains', async () => {
    const { h, target } = await gatewayWithSlowTarget(true);
    for (let i = 0; i < 4; i++) h.peer.sendFrame(1, KiB256);
    h.exchange();
    expect(h.peer.controls()).toEqual(['opened 1']); // exactly 1 MiB pending: not above the mark
    h.peer.sendFrame(1, KiB256);
    h.peer.sendFrame(1, KiB256);
    h.exchange();
    expect(h.peer.controls()).toEqual(['opened 1', 'flow-pause 1']); // once
    target.outer.resume();
    await until(() => h.peer.controls().includes('flow-resume 1'), 'FlowResume');
    expect(h.peer.controls()).toEqual(['opened 1', 'flow-pause 1', 'flow-resume 1']);
  });

  it('no FlowPause to a peer that did not announce flow control', async () => {
    const { h } = await gatewayWithSlowTarget(false);
    for (let i = 0; i < 8; i++) h.peer.sendFrame(1, KiB256);
    h.exchange();
    expect(h.peer.controls()).toEqual(['opened 1']);
  });

  it('past 16 MiB pending the connection is closed with Error and the cap in the text', async () => {
    const rec = diagnostics();
    const { h, target } = await gatewayWithSlowTarget(true);
    let closed = false;
    target.inner.on('close', () => {
      closed = true;
    });
    const MiB = Buffer.alloc(1024 * 1024, 0x62);
    for (let i = 0; i < 16; i++) h.peer.sendFrame(1, MiB);
    h.exchange();
    expect(h.peer.controls()).toEqual(['opened 1', 'flow-pause 1']); // exactly 16 MiB: kept
    h.peer.sendFrame(1, MiB);
    h.exchange();
    expect(h.peer.controls()).toEqual([
      'opened 1',
      'flow-pause 1',
      'close 1 1 "Receive buffer limit exceeded: 17825792 bytes pending (cap 16777216)"',
    ]);
    await until(() => closed, 'target stream destroyed');
    expect(rec.closes.map((c) => [c.connNo, c.reason, c.initiator])).toEqual([[1, 1, 'local']]);
  });

  it("the peer's FlowPause stops reading that connection's source until FlowResume", async () => {
    const h = harness({ role: 'server' });
    const local = streamPair();
    h.channel.acceptLocal(local.inner);
    h.peer.sendFrame(0, '03e9 00000001'); // FlowPause 1
    h.exchange();
    local.outer.write('held');
    await settle();
    expect(h.peer.dataOf(1).length).toBe(0);
    h.peer.sendFrame(0, '03ea 00000001'); // FlowResume 1
    await until(() => h.peer.dataOf(1).toString() === 'held', 'data after FlowResume');
  });
});

describe('toward WebRTC', () => {
  it("frames never exceed the peer's max-message-size", async () => {
    const h = harness({ role: 'server', maxMessageSize: 1200 });
    const local = streamPair();
    h.channel.acceptLocal(local.inner);
    const sent = Buffer.alloc(50_000);
    for (let i = 0; i < sent.length; i++) sent[i] = i & 0xff;
    local.outer.write(sent);
    await until(() => h.peer.dataOf(1).length === sent.length, 'all data');
    expect(Math.max(...h.peer.frames.map((f) => f.bytes))).toBeLessThanOrEqual(1200);
    expect(h.peer.dataOf(1).equals(sent)).toBe(true);
  });

  it('reads pause while the data channel buffers more than sendHighWater and resume on drain', async () => {
    const h = harness({ role: 'server', limits: { sendHighWater: 64 * 1024, sendLowWater: 16 * 1024 } });
    h.a.hold();
    const local = streamPair();
    h.channel.acceptLocal(local.inner);
    for (let i = 0; i < 50; i++) local.outer.write(Buffer.alloc(4096));
    await until(() => h.a.bufferedAmount > 64 * 1024, 'the data channel past the mark');
    await settle(20);
    // Reads stopped at the mark: the data channel holds the mark plus at most one read.
    expect(h.a.bufferedAmount).toBeGreaterThan(64 * 1024);
    expect(h.a.bufferedAmount).toBeLessThanOrEqual(64 * 1024 + 4096 + 2 * 17);
    h.a.release();
    await until(() => h.peer.dataOf(1).length === 200 * 1024, 'the rest after drain');
  });
});

describe('timers (manual clock)', () => {
  it('keepalive: a ping every interval, RTT from the echo, timeout after 30 s of silence (not before)', () => {
    const h = harness({ role: 'server' });
    h.clock.advance(5_000);
    h.exchange();
    const ping = h.peer.frames.find(
      (f) => f.connNo === 0 && f.payload.readUInt16BE(0) === 1 && f.payload.length === 14,
    );
    expect(ping).toBeDefined();
    h.clock.advance(40); // the peer answers 40 ms later: Pong with the same body
    h.peer.sendFrame(
      0,
      Buffer.concat([Buffer.from([0, 2]), (ping as { payload: Buffer }).payload.subarray(2)]),
    );
    h.exchange();
    expect(h.channel.stats().rttMs).toBe(40);

    // From here the peer is silent: the tick at +5 s sees the Pong, then 30 s of silence.
    h.clock.advance(4_960 + 29_999);
    expect(h.timeouts).toBe(0);
    h.clock.advance(1);
    expect(h.timeouts).toBe(1);
  });

  it('any message from the peer restarts the silence', () => {
    const h = harness({ role: 'server' });
    h.clock.advance(25_000);
    h.peer.sendFrame(0, '0001 00000000 abcd');
    h.exchange();
    h.clock.advance(34_999);
    expect(h.timeouts).toBe(0);
    h.clock.advance(1);
    expect(h.timeouts).toBe(1);
  });

  it('the keepalive stops with the channel', () => {
    const h = harness({ role: 'server' });
    h.channel.close(0);
    expect(h.clock.pending).toBe(0);
    h.clock.advance(60_000);
    expect(h.timeouts).toBe(0);
  });

  it('an opener that never answers is refused after connectTimeoutMs (ConnectionFailed) and told to give up', async () => {
    let abandoned: AbortSignal | undefined;
    const h = harness({
      role: 'client',
      limits: { connectTimeoutMs: 50 },
      opener: (_conn, _tail, ctx) => {
        abandoned = ctx.abandoned;
        return new Promise<Opened>(() => {});
      },
    });
    h.peer.sendFrame(0, OPEN_1);
    h.exchange();
    h.clock.advance(49);
    h.exchange();
    expect(h.peer.controls()).toEqual([]);
    h.clock.advance(1);
    h.exchange();
    expect(h.peer.controls()).toEqual(['close 1 10 "Open timed out after 50 ms"']);
    expect(abandoned?.aborted).toBe(true);
  });

  it('an open that completes in time leaves no deadline behind', async () => {
    const h = harness({
      role: 'client',
      limits: { connectTimeoutMs: 50, keepaliveIntervalMs: 0 },
      opener: async () => ({ socket: streamPair().inner }),
    });
    h.peer.sendFrame(0, OPEN_1);
    await until(() => h.peer.controls().includes('opened 1'), 'opened');
    expect(h.clock.pending).toBe(0);
    h.clock.advance(100);
    h.exchange();
    expect(h.peer.controls()).toEqual(['opened 1']);
  });

  it('a closing connection whose reader makes no progress is destroyed after 10 s; progress postpones it', async () => {
    const target = streamPair();
    const h = harness({
      role: 'client',
      limits: { keepaliveIntervalMs: 0 },
      opener: async () => ({ socket: target.inner }),
    });
    h.peer.sendFrame(0, OPEN_1);
    await until(() => h.peer.controls().includes('opened 1'), 'opened');
    let destroyed = false;
    target.inner.on('close', () => {
      destroyed = true;
    });
    for (let i = 0; i < 4; i++) h.peer.sendFrame(1, Buffer.alloc(64 * 1024));
    h.peer.sendFrame(0, CLOSE_1_NORMAL);
    h.exchange();
    await settle();
    h.clock.advance(8_000);
    await settle();
    expect(destroyed).toBe(false);
    target.outer.read(); // the reader takes what it has buffered: one more chunk moves, progress
    await settle();
    // Checks run every 2 s: the one at 10 s sees the progress, so 10 s of no progress end at 20 s.
    h.clock.advance(10_000);
    await settle();
    expect(destroyed).toBe(false);
    h.clock.advance(2_000);
    await until(() => destroyed, 'destroyed after 10 s without progress');
  });
});

it('frame helper matches the literal layout', () => {
  expect(frame(0, OPEN_1).toString('hex')).toBe('00000000000000000000000000000006006500000001' + '3b');
});
