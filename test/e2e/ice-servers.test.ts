/**
 * Which servers a tube contacts (src/webrtc/ice-servers.ts, src/webrtc/patches/ice-gathering.ts):
 * - settings → servers (turn_url, use_turn, turn_only), with typed errors for what cannot work;
 * - the TURN REST credential helper against the scheme's definition;
 * - no implicit STUN server: two real tubes connect inside a network namespace whose only route leads into
 *   a dummy interface, with nftables counting every DNS query and every datagram that leaves for anything
 *   but loopback (werift 0.25 alone resolves stun.l.google.com on every gathering: counted here);
 * - the non-trickle gathering timeout fires with a TURN server that never answers;
 * - the creation timeout closes a tube that never connects, and says so (`tube_closed`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RTCPeerConnection } from 'werift';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../../src/cli/remote.ts';
import { ErrorCode, isTubesError, type Signal, TubeRegistry, turnRestCredentials } from '../../src/index.ts';
import { silentLogger } from '../../src/log.ts';
import { iceServerPlan, parseIceUrl } from '../../src/webrtc/ice-servers.ts';
import {
  allocateError,
  prepareGathering,
  turnGatheringUnavailable,
} from '../../src/webrtc/patches/ice-gathering.ts';
import { requireNetns } from '../helpers/skip.ts';

const TUNNEL = { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: 9 };

describe('ICE server plan from settings', () => {
  const turn = { urls: 'turn:198.51.100.7?transport=tcp', username: 'u', credential: 'p' };

  it('parses stun/turn/turns URLs and refuses malformed ones', () => {
    expect(parseIceUrl('stun:192.0.2.1')).toEqual({ kind: 'stun', host: '192.0.2.1', port: 3478 });
    expect(parseIceUrl('turn:[2001:db8::1]:3479?transport=tcp')).toEqual({
      kind: 'turn',
      host: '2001:db8::1',
      port: 3479,
      transport: 'tcp',
    });
    expect(parseIceUrl('turns:turn.example.org')).toMatchObject({ transport: 'tls', port: 5349 });
    for (const bad of [
      'http://x',
      'turn:',
      'turn:h:99999',
      'turn:h?transport=sctp',
      'turns:h?transport=udp',
    ]) {
      expect(parseIceUrl(bad), bad).toBeUndefined();
    }
  });

  it('turn_url needs its credentials; use_turn false drops TURN; turn_only means relay only without STUN', () => {
    const stun = { urls: 'stun:192.0.2.1' };
    const plan = iceServerPlan([stun], {
      turn_url: 'turn:192.0.2.2',
      turn_username: 'a',
      turn_password: 'b',
    });
    expect(plan.stun.map((s) => s.url)).toEqual(['stun:192.0.2.1']);
    expect(plan.turn).toMatchObject([{ host: '192.0.2.2', port: 3478, transport: 'udp', username: 'a' }]);
    expect(plan.relayOnly).toBe(false);
    expect(() => iceServerPlan([], { turn_url: 'turn:192.0.2.2' })).toThrow(/given together/);
    expect(iceServerPlan([turn], { use_turn: false }).turn).toEqual([]);
    const relay = iceServerPlan([stun, turn], { turn_only: true });
    expect(relay).toMatchObject({ relayOnly: true, stun: [] });
    expect(relay.turn).toHaveLength(1);
    expect(iceServerPlan([turn], {}, true).relayOnly).toBe(true);
    for (const settings of [{ turn_only: true }, { turn_only: true, use_turn: false }]) {
      let err: unknown;
      try {
        iceServerPlan(settings.use_turn === false ? [turn] : [stun], settings);
      } catch (e) {
        err = e;
      }
      expect(isTubesError(err, ErrorCode.BAD_SETTINGS), JSON.stringify(settings)).toBe(true);
    }
    expect(() => iceServerPlan([{ urls: 'turn:h' }], {})).toThrow(/username and a credential/);
    expect(() => iceServerPlan([], { turn_only: 'yes' })).toThrow(/boolean/);
  });

  it('createTube rejects a bad turn_url with TUBES_ERR_BAD_SETTINGS before any WebRTC work', async () => {
    const reg = new TubeRegistry(LOOPBACK);
    const err = await reg
      .createTube({
        conversationId: 'c',
        settings: {
          ...TUNNEL,
          turn_url: 'turn:h?transport=carrier-pigeon',
          turn_username: 'u',
          turn_password: 'p',
        },
        trickleIce: true,
      })
      .catch((e: unknown) => e);
    expect(isTubesError(err, ErrorCode.BAD_SETTINGS)).toBe(true);
    expect(reg.activeTubeCount()).toBe(0);
  });
});

describe('werift internals the gathering patch relies on (fail when werift changes)', () => {
  it('the pinned werift has the exports and ICE Connection methods, and the patch installs', async () => {
    expect(turnGatheringUnavailable()).toBeUndefined();
    const pc = new RTCPeerConnection({ iceServers: [] });
    try {
      pc.createDataChannel('x');
      await pc.createOffer();
      const plan = {
        stun: undefined,
        turn: [],
        relayOnly: false,
        waitForTurn: true,
        allocateTimeoutMs: 1_000,
      };
      const problems = prepareGathering(
        pc,
        { ...plan, logger: silentLogger(), onTurnOutcome: () => {} },
        true,
      );
      expect(problems).toEqual([]);
      const conn = pc.iceTransports[0]?.connection as unknown as Record<string, unknown>;
      expect(conn['stunServer']).toBeUndefined();
      expect((conn['getCandidatePromises'] as { name: string }).name).toBe('gatherConfiguredOnly');
    } finally {
      await pc.close();
    }
  });
});

describe('turnRestCredentials', () => {
  it('username = expiry:user, credential = base64(HMAC-SHA1(secret, username))', () => {
    const now = Date.UTC(2030, 0, 1);
    const c = turnRestCredentials({ secret: 's3cret', user: 'alice', ttlSeconds: 600, now });
    const expiry = now / 1000 + 600;
    expect(c.username).toBe(`${expiry}:alice`);
    expect(c.credential).toBe(createHmac('sha1', 's3cret').update(`${expiry}:alice`).digest('base64'));
    expect(c.expiresAt.getTime()).toBe(expiry * 1000);
    expect(turnRestCredentials({ secret: 'x', now }).username).toBe(String(now / 1000 + 86_400));
    for (const bad of [{ secret: '' }, { secret: 'x', ttlSeconds: 0 }, { secret: 'x', user: 'a:b' }]) {
      expect(() => turnRestCredentials(bad)).toThrow(/turnRestCredentials/);
    }
  });

  it('allocateError reads the ERROR-CODE of an Allocate error response', () => {
    const reason = Buffer.from('Unauthorized');
    const attrLen = 4 + reason.length;
    const padded = attrLen + ((4 - (attrLen % 4)) % 4);
    const msg = Buffer.alloc(20 + 4 + padded);
    msg.writeUInt16BE(0x0113, 0);
    msg.writeUInt16BE(4 + padded, 2);
    msg.writeUInt32BE(0x2112a442, 4);
    msg.writeUInt16BE(0x0009, 20);
    msg.writeUInt16BE(attrLen, 22);
    msg[26] = 4;
    msg[27] = 1;
    reason.copy(msg, 28);
    expect(allocateError(msg)).toEqual({ code: 401, reason: 'Unauthorized' });
    msg.writeUInt16BE(0x0103, 0); // a success response
    expect(allocateError(msg)).toBeUndefined();
  });
});

// ---- no implicit STUN server -------------------------------------------------------------------------------

const skipNetns = requireNetns({ named: true, suite: '"no implicit STUN server" (netns)' });

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', ...(input !== undefined ? { input } : {}) });
}

describe.skipIf(skipNetns)('only the configured ICE servers are contacted (netns, nftables counters)', () => {
  const ns = `tubesleak-${process.pid}`;
  const CONFIGURED = '192.0.2.77';
  const registries: RemoteRegistry[] = [];

  beforeAll(() => {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // A default route into a veth pair whose other end leads nowhere: whatever leaves for the outside passes
    // the output hook (and is counted) and then disappears. DNS goes to the machine's resolver through it too.
    sh('ip', ['-n', ns, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    sh('ip', ['-n', ns, 'addr', 'add', '192.0.2.1/24', 'dev', 'd0']);
    sh('ip', ['-n', ns, 'link', 'set', 'd0', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'd1', 'up']);
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'dev', 'd0']);
    sh(
      'ip',
      ['netns', 'exec', ns, 'nft', '-f', '-'],
      `table inet leak {
        counter dns {}
        counter configured {}
        counter other {}
        chain out {
          type filter hook output priority 0; policy accept;
          meta l4proto { udp, tcp } th dport 53 counter name "dns"
          ip daddr ${CONFIGURED} counter name "configured" accept
          meta l4proto { udp, tcp } ip daddr != 127.0.0.0/8 counter name "other"
          meta l4proto { udp, tcp } ip6 daddr != ::1 counter name "other"
        }
      }`,
    );
  });

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.stop()));
    spawnSync('ip', ['netns', 'del', ns]);
  });

  const counters = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const name of ['dns', 'configured', 'other']) {
      const text = sh('ip', ['netns', 'exec', ns, 'nft', 'list', 'counter', 'inet', 'leak', name]);
      out[name] = Number(/packets (\d+)/.exec(text)?.[1] ?? Number.NaN);
    }
    return out;
  };

  async function pairInNamespace(iceServers: { urls: string }[]): Promise<void> {
    const opts = { ...LOOPBACK, iceServers };
    const server = new RemoteRegistry(opts, { wrap: ['ip', 'netns', 'exec', ns] });
    const client = new RemoteRegistry(opts, { wrap: ['ip', 'netns', 'exec', ns] });
    registries.push(server, client);
    const pair = await connectTubes({ server, client, clientSettings: TUNNEL, timeoutMs: 20_000 });
    // Gathering (and werift's STUN queries, if any) ran during connection; give stragglers a moment.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(pair.serverTube).not.toBe('');
    await Promise.all([server.cleanupAll(), client.cleanupAll()]);
  }

  it('iceServers: [] → two tubes connect with no DNS query and no datagram for anything but loopback', async () => {
    const before = counters();
    await pairInNamespace([]);
    const after = counters();
    console.log(`[leak] no ICE servers: ${JSON.stringify({ before, after })}`);
    expect(after['dns']).toBe(before['dns']);
    expect(after['other']).toBe(before['other']);
    expect(after['configured']).toBe(before['configured']);
  });

  it('a configured STUN server is contacted, and nothing else', async () => {
    const before = counters();
    await pairInNamespace([{ urls: `stun:${CONFIGURED}:3478` }]);
    const after = counters();
    console.log(`[leak] stun:${CONFIGURED}: ${JSON.stringify({ before, after })}`);
    expect(after['configured']).toBeGreaterThan(before['configured'] as number);
    expect(after['dns']).toBe(before['dns']);
    expect(after['other']).toBe(before['other']);
  });
});

// ---- timeouts ----------------------------------------------------------------------------------------------

describe('gathering and creation timeouts', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });

  /** A UDP port that swallows everything: a TURN server that never answers. */
  async function silentUdp(): Promise<number> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
    return sock.address().port;
  }

  it('non-trickle: iceGatherTimeoutMs fires while a TURN server never answers', async () => {
    const port = await silentUdp();
    const reg = new TubeRegistry({ ...LOOPBACK, iceGatherTimeoutMs: 800, turnTimeoutMs: 10_000 });
    cleanups.push(() => reg.cleanupAll());
    const t0 = performance.now();
    const err = await reg
      .createTube({
        conversationId: 'g',
        settings: { ...TUNNEL, local_listen_addr: '127.0.0.1:0' },
        trickleIce: false,
        iceServers: [{ urls: `turn:127.0.0.1:${port}`, username: 'u', credential: 'p' }],
      })
      .catch((e: unknown) => e);
    const ms = performance.now() - t0;
    console.log(
      `[timeout] non-trickle gathering with a silent TURN server rejected after ${ms.toFixed(0)} ms`,
    );
    expect(isTubesError(err, ErrorCode.TIMEOUT)).toBe(true);
    expect((err as Error).message).toMatch(/ICE gathering timeout for offer/);
    expect(ms).toBeLessThan(5_000);
    expect(reg.activeTubeCount()).toBe(0);
  });

  it('non-trickle: a silent TURN server is reported unreachable after turnTimeoutMs, host candidates still used', async () => {
    const port = await silentUdp();
    const reg = new TubeRegistry({ ...LOOPBACK, turnTimeoutMs: 700 });
    cleanups.push(() => reg.cleanupAll());
    const signals: Signal[] = [];
    const t0 = performance.now();
    const r = await reg.createTube({
      conversationId: 'g2',
      settings: { ...TUNNEL, local_listen_addr: '127.0.0.1:0' },
      trickleIce: false,
      iceServers: [{ urls: `turn:127.0.0.1:${port}`, username: 'u', credential: 'p' }],
      onSignal: (s) => signals.push(s),
    });
    const ms = performance.now() - t0;
    console.log(`[timeout] non-trickle createTube with a silent TURN server: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(3_000);
    expect(Buffer.from(r.offer ?? '', 'base64').toString()).toMatch(
      /a=candidate:.* 127\.0\.0\.1 .* typ host/,
    );
    const turnError = signals.find((s) => s.kind === 'turn_error');
    expect(JSON.parse(turnError?.data ?? '{}')).toMatchObject({
      url: `turn:127.0.0.1:${port}`,
      code: ErrorCode.TURN_UNREACHABLE,
      relay_only: false,
    });
  });

  it('trickle: createTube returns at once although the STUN and TURN servers never answer; "" comes after both', async () => {
    const stunPort = await silentUdp();
    const turnPort = await silentUdp();
    const reg = new TubeRegistry({ ...LOOPBACK, turnTimeoutMs: 3_000 });
    cleanups.push(() => reg.cleanupAll());
    const signals: Array<{ at: number; s: Signal }> = [];
    const t0 = performance.now();
    await reg.createTube({
      conversationId: 't',
      settings: { ...TUNNEL, local_listen_addr: '127.0.0.1:0' },
      trickleIce: true,
      iceServers: [
        { urls: `stun:127.0.0.1:${stunPort}` },
        { urls: `turn:127.0.0.1:${turnPort}`, username: 'u', credential: 'p' },
      ],
      onSignal: (x) => signals.push({ at: performance.now() - t0, s: x }),
    });
    const createMs = performance.now() - t0;
    while (
      !signals.some((x) => x.s.kind === 'icecandidate' && x.s.data === '') &&
      performance.now() - t0 < 10_000
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const end = signals.find((x) => x.s.kind === 'icecandidate' && x.s.data === '');
    const turnError = signals.find((x) => x.s.kind === 'turn_error');
    const host = signals.find((x) => x.s.kind === 'icecandidate' && x.s.data.includes(' typ host'));
    console.log(
      `[trickle] createTube ${createMs.toFixed(0)} ms; host candidate ${host?.at.toFixed(0)} ms; turn_error ${turnError?.at.toFixed(0)} ms; end of candidates ${end?.at.toFixed(0)} ms`,
    );
    expect(createMs).toBeLessThan(2_500); // waiting would take ≥ 3 s (TURN) and 5 s (STUN)
    expect(host).toBeDefined();
    expect(turnError?.at).toBeGreaterThanOrEqual(2_950);
    expect(end?.at).toBeGreaterThanOrEqual(turnError?.at as number);
  });

  it('use_turn: false ignores turn_url (nothing allocated, nothing reported); with turn_only it is refused', async () => {
    const port = await silentUdp();
    const reg = new TubeRegistry({ ...LOOPBACK, turnTimeoutMs: 300 });
    cleanups.push(() => reg.cleanupAll());
    const signals: Signal[] = [];
    const turn = { turn_url: `turn:127.0.0.1:${port}`, turn_username: 'u', turn_password: 'p' };
    await reg.createTube({
      conversationId: 'u',
      settings: { ...TUNNEL, local_listen_addr: '127.0.0.1:0', ...turn, use_turn: false },
      trickleIce: true,
      onSignal: (x) => signals.push(x),
    });
    await new Promise((r) => setTimeout(r, 800));
    expect(signals.filter((x) => x.kind === 'turn_error')).toEqual([]);
    expect(signals.some((x) => x.kind === 'icecandidate' && x.data === '')).toBe(true);
    const err = await reg
      .createTube({
        conversationId: 'u2',
        settings: { ...TUNNEL, ...turn, use_turn: false, turn_only: true },
        trickleIce: true,
      })
      .catch((e: unknown) => e);
    expect(isTubesError(err, ErrorCode.BAD_SETTINGS)).toBe(true);
  });

  it('worker mode: the same options reach the tubes and turn_error / tube_closed come back from the worker', async () => {
    const port = await silentUdp();
    const reg = new TubeRegistry({ ...LOOPBACK, workers: 1, turnTimeoutMs: 300, creationTimeoutMs: 900 });
    cleanups.push(() => reg.cleanupAll());
    const signals: Signal[] = [];
    const r = await reg.createTube({
      conversationId: 'w',
      settings: { ...TUNNEL, local_listen_addr: '127.0.0.1:0' },
      trickleIce: true,
      iceServers: [{ urls: `turn:127.0.0.1:${port}`, username: 'u', credential: 'p' }],
      onSignal: (x) => signals.push(x),
    });
    const t0 = performance.now();
    while (reg.tubeFound(r.tubeId) && performance.now() - t0 < 5_000)
      await new Promise((x) => setTimeout(x, 20));
    expect(reg.tubeFound(r.tubeId)).toBe(false);
    expect(JSON.parse(signals.find((x) => x.kind === 'turn_error')?.data ?? '{}')).toMatchObject({
      code: ErrorCode.TURN_UNREACHABLE,
    });
    expect(JSON.parse(signals.find((x) => x.kind === 'tube_closed')?.data ?? '{}')).toMatchObject({
      close_reason: { name: 'Timeout' },
    });
  });

  it('creationTimeoutMs: a tube nobody answers is closed with Timeout and a tube_closed signal', async () => {
    const reg = new TubeRegistry({ ...LOOPBACK, creationTimeoutMs: 600 });
    cleanups.push(() => reg.cleanupAll());
    const signals: Signal[] = [];
    const t0 = performance.now();
    const r = await reg.createTube({
      conversationId: 'lonely',
      settings: { ...TUNNEL, local_listen_addr: '127.0.0.1:0' },
      trickleIce: true,
      onSignal: (s) => signals.push(s),
    });
    while (reg.tubeFound(r.tubeId) && performance.now() - t0 < 5_000)
      await new Promise((x) => setTimeout(x, 20));
    const ms = performance.now() - t0;
    expect(reg.tubeFound(r.tubeId)).toBe(false);
    expect(ms).toBeGreaterThanOrEqual(550);
    expect(ms).toBeLessThan(3_000);
    const closed = signals.find((s) => s.kind === 'tube_closed');
    expect(JSON.parse(closed?.data ?? '{}')).toMatchObject({
      close_reason: { code: 2, name: 'Timeout' },
      message: 'not connected within 600 ms',
    });
    const channelClosed = signals.find((s) => s.kind === 'channel_closed');
    expect(JSON.parse(channelClosed?.data ?? '{}')).toMatchObject({ close_reason: { name: 'Timeout' } });
  });

  it('creationTimeoutMs does not touch a tube that connected', async () => {
    const a = new TubeRegistry({ ...LOOPBACK, creationTimeoutMs: 1_500 });
    const b = new TubeRegistry({ ...LOOPBACK, creationTimeoutMs: 1_500 });
    cleanups.push(
      () => a.cleanupAll(),
      () => b.cleanupAll(),
    );
    const pair = await connectTubes({ server: a, client: b, clientSettings: TUNNEL });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(a.getTubeStatus(pair.serverTube)).toBe('ready');
    expect(b.getTubeStatus(pair.clientTube)).toBe('ready');
  });
});
