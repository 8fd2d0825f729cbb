/**
 * The idle-allocation patches (src/webrtc/patches/: event-sync-execute, stun-serialize, sctp-sack-build) against
 * a live werift:
 * the internals each relies on (these tests fail when werift's internals move), that each keeps werift's
 * behaviour (the same subscriber calls in the same order; the same STUN bytes), and that both are in force on a
 * connected pair whose consent checks and data still flow.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Event, Message, parseMessage, type RTCDataChannel, RTCPeerConnection } from 'werift';
import type { Logger } from '../../src/log.ts';
import {
  checkEventClass,
  type EventShape,
  eventPatchStats,
  fastenEvent,
} from '../../src/webrtc/patches/event-sync-execute.ts';
import {
  checkCandidatePair,
  RECENT_REQUEST_IDS,
  RecentIds,
} from '../../src/webrtc/patches/ice-request-ids-bounded.ts';
import { activeWeriftPatches, installWeriftPatches } from '../../src/webrtc/patches/index.ts';
import {
  checkSackSender,
  patchSackSender,
  type SackSenderShape,
  sackBuildStats,
} from '../../src/webrtc/patches/sctp-sack-build.ts';
import {
  checkMessageClass,
  installStunSerialize,
  type MessageShape,
  serializeMessage,
  stockMessageMethods,
  stunSerializeStats,
} from '../../src/webrtc/patches/stun-serialize.ts';

const silent: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silent,
};

const open: RTCPeerConnection[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((pc) => pc.close().catch(() => {})));
});

describe('event-sync-execute', () => {
  it("werift's Event still has the shape and body the patch reproduces", () => {
    expect(checkEventClass()).toEqual([]);
  });

  /** Runs the same script on a stock and a fastened event and returns both call logs. */
  async function script(fasten: boolean): Promise<string[]> {
    const log: string[] = [];
    const ev = new Event<[number, string?]>();
    if (fasten) fastenEvent(ev as unknown as EventShape);
    (ev as unknown as EventShape).onerror = (e) => log.push(`onerror ${(e as Error).message}`);
    ev.subscribe((a, b) => log.push(`first ${a} ${b}`));
    const second = ev.subscribe((...args) => log.push(`second ${args.length}`));
    ev.execute(1);
    ev.execute(2, 'two');
    second.unSubscribe();
    // a subscriber that adds a queuing subscriber while the event runs: werift awaits it in the same call
    ev.once(() => {
      ev.queuingSubscribe(async (a) => {
        log.push(`queued start ${a}`);
        await new Promise((r) => setTimeout(r, 5));
        log.push(`queued end ${a}`);
      });
    });
    ev.execute(3);
    log.push('after execute 3');
    ev.queuingSubscribe(async (a) => {
      if (a === 4) throw new Error('boom');
    });
    ev.execute(4);
    await new Promise((r) => setTimeout(r, 30));
    ev.complete();
    ev.execute(5); // ended: nothing
    await new Promise((r) => setTimeout(r, 10));
    return log;
  }

  it('calls the same subscribers in the same order as werift, queued ones included', async () => {
    const stock = await script(false);
    const ours = await script(true);
    expect(ours).toEqual(stock);
    expect(stock).toContain('onerror boom');
    // werift starts the first queued subscriber synchronously, inside execute
    expect(stock.indexOf('queued start 3')).toBeLessThan(stock.indexOf('after execute 3'));
    expect(stock.indexOf('queued end 3')).toBeGreaterThan(stock.indexOf('after execute 3'));
  });

  it('the shape check reports a moved internal', () => {
    class Changed {
      event = { stack: [], promiseStack: [] };
      ended = false;
      onerror = (_e: unknown) => {};
      execute = (...args: unknown[]) => {
        for (const item of this.event.stack as { execute(...a: unknown[]): void }[]) item.execute(...args);
      };
    }
    expect(checkEventClass(Changed)).toEqual(['Event.execute no longer has the body this patch reproduces']);
    expect(checkEventClass(undefined)).toEqual([]); // the default: werift's own
    expect(checkEventClass(null).length).toBe(1);
    const e = new Event() as unknown as EventShape;
    fastenEvent(e);
    fastenEvent(e); // idempotent
    expect(typeof e.execute).toBe('function');
  });
});

describe('stun-serialize', () => {
  it("werift's Message still has what the patch replaces", () => {
    expect(checkMessageClass()).toEqual([]);
    expect(installStunSerialize()).toEqual([]);
    expect(stockMessageMethods()).toBeDefined();
  });

  /** A message serialised by werift's own code all the way (integrity and fingerprint included). */
  function stockView(m: MessageShape): MessageShape {
    const stock = stockMessageMethods();
    if (!stock) throw new Error('not installed');
    Object.defineProperty(m, 'bytes', { get: () => stock.bytes.call(m), configurable: true });
    m.messageIntegrity = (key: Buffer) => stock.messageIntegrity.call(m, key);
    m.addFingerprint = () => stock.addFingerprint.call(m);
    return m;
  }

  it('writes the bytes werift writes, integrity and fingerprint included (random ICE messages)', () => {
    expect(installStunSerialize()).toEqual([]);
    const before = stunSerializeStats.ours;
    for (let i = 0; i < 500; i++) {
      const tx = randomBytes(12);
      const key = randomBytes(16);
      const user = `${randomBytes(4).toString('hex')}:${'é'.repeat(i % 5)}x`;
      const tie = randomBytes(8).readBigUInt64BE();
      const build = (): MessageShape => {
        const m = new Message(1, [0, 256, 272][i % 3] as number, Buffer.from(tx)) as unknown as MessageShape;
        m.setAttribute('USERNAME', user);
        if (i % 3 === 1) m.setAttribute('XOR-MAPPED-ADDRESS', [`10.${i % 256}.0.${(i * 7) % 256}`, i * 131]);
        m.setAttribute('PRIORITY', (i * 2654435761) >>> 0);
        m.setAttribute(i % 2 ? 'ICE-CONTROLLING' : 'ICE-CONTROLLED', tie);
        if (i % 4 === 0) m.setAttribute('USE-CANDIDATE', null);
        if (i % 3 === 2) m.setAttribute('ERROR-CODE', [400 + (i % 100), 'Role Conflict'.slice(0, i % 14)]);
        return m;
      };
      const ours = build() as unknown as Message;
      const theirs = stockView(build()) as unknown as Message;
      ours.addMessageIntegrity(key).addFingerprint();
      theirs.addMessageIntegrity(key).addFingerprint();
      expect(ours.bytes.equals(theirs.bytes)).toBe(true);
      // and werift's parser accepts it, integrity checked
      expect(parseMessage(ours.bytes, key)?.transactionIdHex).toBe(tx.toString('hex'));
    }
    expect(stunSerializeStats.ours - before).toBeGreaterThan(500);
  });

  it("leaves what it does not write to werift's code, with the same bytes", () => {
    expect(installStunSerialize()).toEqual([]);
    const cases: [string, unknown][] = [
      ['XOR-MAPPED-ADDRESS', ['::1', 5000]],
      ['SOFTWARE', 'tubes'],
      ['LIFETIME', 600],
    ];
    for (const [name, value] of cases) {
      const tx = randomBytes(12);
      const m = new Message(1, 256, Buffer.from(tx)) as unknown as MessageShape;
      m.setAttribute(name, value);
      expect(serializeMessage(m)).toBeUndefined();
      const werift = stunSerializeStats.werift;
      const ours = (m as unknown as Message).addFingerprint().bytes;
      expect(stunSerializeStats.werift).toBeGreaterThan(werift);
      const s = new Message(1, 256, Buffer.from(tx)) as unknown as MessageShape;
      s.setAttribute(name, value);
      expect(ours.equals(stockView(s).addFingerprint().bytes)).toBe(true);
    }
    class Moved {
      get bytes() {
        return Buffer.alloc(0);
      }
    }
    expect(checkMessageClass(Moved).length).toBeGreaterThan(2);
    const raw = new Message(1, 0) as unknown as Message;
    raw.appendRawAttribute(0x7777, Buffer.from('x'));
    expect(serializeMessage(raw as unknown as MessageShape)).toBeUndefined();
  });
});

describe('both on a connected pair', () => {
  const loopbackSdp = (sdp: string): string =>
    sdp
      .split('\r\n')
      .filter((l) => !l.startsWith('a=candidate:') || l.split(' ')[4] === '127.0.0.1')
      .join('\r\n');

  function pc(patched = true): RTCPeerConnection {
    const p = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
      iceFilterCandidatePair: (pair) => pair.remoteCandidate.host === '127.0.0.1',
    });
    if (patched) installWeriftPatches(p, { logger: silent });
    open.push(p);
    return p;
  }

  const opened = (dc: RTCDataChannel): Promise<void> =>
    new Promise((resolve) => {
      if (dc.readyState === 'open') resolve();
      else dc.stateChanged.subscribe((s) => s === 'open' && resolve());
    });

  async function pair(a: RTCPeerConnection, b: RTCPeerConnection): Promise<[RTCDataChannel, RTCDataChannel]> {
    const ab = a.createDataChannel('x');
    const remote = new Promise<RTCDataChannel>((resolve) => b.onDataChannel.subscribe(resolve));
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription({ type: 'offer', sdp: loopbackSdp(a.localDescription?.sdp ?? '') });
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription({ type: 'answer', sdp: loopbackSdp(b.localDescription?.sdp ?? '') });
    const ba = await remote;
    await Promise.all([opened(ab), opened(ba)]);
    return [ab, ba];
  }

  it("sctp-sack-build: werift's association has what it replaces, and it sends werift's bytes", async () => {
    const a = pc(false);
    const b = pc(false);
    const [ab] = await pair(a, b);
    const sctp = (a as unknown as { sctpTransport: { sctp: SackSenderShape } }).sctpTransport.sctp;
    expect(checkSackSender(sctp, 'sctp')).toEqual([]);
    expect(checkSackSender({ sendSack: async () => {} }, 'sctp').length).toBeGreaterThan(3);
    // werift's own SACK for the current state, then ours for the same state
    const sent: Buffer[] = [];
    const transport = sctp.transport;
    const send = transport.send;
    transport.send = (p: Buffer) => {
      sent.push(Buffer.from(p));
      return Promise.resolve();
    };
    try {
      sctp.sackNeeded = true;
      await sctp.sendSack();
      expect(sctp.sackNeeded).toBe(false);
      patchSackSender(sctp);
      const ours = sackBuildStats.ours;
      sctp.sackNeeded = true;
      sctp.sackPacketCount = 3;
      sctp.sackImmediate = true;
      await sctp.sendSack();
      expect(sackBuildStats.ours).toBe(ours + 1);
      expect([sctp.sackNeeded, sctp.sackPacketCount, sctp.sackImmediate]).toEqual([false, 0, false]);
      await sctp.sendSack(); // nothing needed: nothing sent
      expect(sent).toHaveLength(2);
      expect(sent[1]?.equals(sent[0] as Buffer)).toBe(true);
      expect(sent[1]).toHaveLength(28);
      // with a gap report it is werift's SACK
      const werift = sackBuildStats.werift;
      sctp.sackNeeded = true;
      sctp.sackMisOrdered.add(((sctp.lastReceivedTsn as number) + 2) >>> 0);
      await sctp.sendSack();
      expect(sackBuildStats.werift).toBe(werift + 1);
      expect(sent[2]?.length).toBe(32);
      sctp.sackMisOrdered.clear();
    } finally {
      transport.send = send;
    }
    // the pair still works
    const back = new Promise<string>((resolve) => ab.onMessage.subscribe((m) => resolve(m.toString())));
    const [ba] = b.sctpTransport ? Object.values(b.sctpTransport.dataChannels) : [];
    ba?.send('after');
    expect(await back).toBe('after');
  });

  it('ice-request-ids-bounded: werift keeps every request ID; a patched pair only the last ones', async () => {
    const set = new RecentIds<number>(3, [1, 2]);
    set.add(3).add(3).add(4);
    expect([...set]).toEqual([2, 3, 4]);
    const a = pc(false);
    const b = pc();
    await pair(a, b);
    type Pair = { requestTransactionIds: Set<string>; noteIncomingRequest(id: string): boolean };
    const nominated = (p: RTCPeerConnection): Pair =>
      (p as unknown as { iceTransports: { connection: { nominated: Pair } }[] }).iceTransports[0]?.connection
        .nominated as Pair;
    const stock = nominated(a);
    const ours = nominated(b);
    expect(checkCandidatePair(stock, 'pair')).toEqual([]);
    expect(checkCandidatePair({ requestTransactionIds: [] }, 'pair').length).toBeGreaterThan(0);
    expect(activeWeriftPatches(b)).toContain('ice-request-ids-bounded');
    for (let i = 0; i < 1000; i++) {
      const id = `${i}`.padStart(24, '0');
      expect(stock.noteIncomingRequest(id)).toBe(false);
      expect(ours.noteIncomingRequest(id)).toBe(false);
      // a retransmission right after its original is still recognised
      expect(ours.noteIncomingRequest(id)).toBe(true);
    }
    expect(stock.requestTransactionIds.size).toBeGreaterThanOrEqual(1000);
    expect(ours.requestTransactionIds.size).toBe(RECENT_REQUEST_IDS);
  });

  it('are in force, and checks and messages still flow', async () => {
    const a = pc();
    const b = pc();
    const events = eventPatchStats.events;
    const stun = stunSerializeStats.ours;
    const sacks = sackBuildStats.ours;
    const [ab, ba] = await pair(a, b);
    for (const p of [a, b]) {
      expect(activeWeriftPatches(p)).toEqual(
        expect.arrayContaining(['event-sync-execute', 'stun-serialize', 'sctp-sack-build']),
      );
    }
    // ICE checks went through our serialiser; the data path's events (ICE, DTLS, SCTP, channels) were replaced
    expect(stunSerializeStats.ours).toBeGreaterThan(stun);
    expect(eventPatchStats.events - events).toBeGreaterThanOrEqual(10); // 5 or more per connection
    ba.onMessage.subscribe((m) => ba.send(`echo ${m.toString()}`));
    const back = new Promise<string>((resolve) => ab.onMessage.subscribe((m) => resolve(m.toString())));
    ab.send('ping');
    expect(await back).toBe('echo ping');
    await new Promise((r) => setTimeout(r, 20));
    expect(sackBuildStats.ours).toBeGreaterThan(sacks); // the messages were acknowledged with our SACKs
  });
});
