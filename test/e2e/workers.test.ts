import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { connectTubes, LOOPBACK } from '../../src/cli/remote.ts';
import { engineInfo } from '../../src/hotpath/index.ts';
import { ErrorCode, isTubesError, type Signal, TubeRegistry } from '../../src/index.ts';
import {
  WORKER_EXITED_OUTCOME,
  workerInfo,
  workerTestHookForTests,
} from '../../src/registry/worker-backend.ts';
import { runCommand } from '../helpers/peers.ts';
import { connect, echoServer, pumpAndCollect, waitFor } from '../helpers/tubes.ts';

type Closer = () => Promise<void> | void;

const TUNNEL_SERVER = { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' };

describe('TubeRegistry({ workers }): tubes in worker threads', () => {
  const cleanups: Closer[] = [];
  const later = (fn: Closer): void => void cleanups.push(fn);
  afterEach(async () => {
    while (cleanups.length) await (cleanups.pop() as Closer)();
  });

  function registry(workers: number, extra: Partial<ConstructorParameters<typeof TubeRegistry>[0]> = {}) {
    const r = new TubeRegistry({ ...LOOPBACK, ...extra, workers });
    later(() => r.cleanupAll());
    return r;
  }

  async function echo(): Promise<number> {
    const e = await echoServer();
    later(() => e.close());
    return e.port;
  }

  it('creates, transfers (sha256) and closes a server tube in a worker, paired with an in-thread registry', async () => {
    const port = await echo();
    const server = registry(2);
    expect(server).toBeInstanceOf(TubeRegistry);
    const client = registry(0);
    const pair = await connectTubes({
      server,
      client,
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: port },
    });
    expect(server.getTubeStatus(pair.serverTube)).toBe('ready');
    expect(server.getConnectionState(pair.serverTube)).toBe('Connected');
    expect(server.tubeFound(pair.serverTube)).toBe(true);
    expect(server.allTubeIds()).toEqual([pair.serverTube]);
    expect(server.activeTubeCount()).toBe(1);
    expect(server.getConversationIdsByTubeId(pair.serverTube)).toEqual(['conv-1']);
    expect(server.getTubeIdByConversationId('conv-1')).toBe(pair.serverTube);
    expect(server.checkCapacity()).toMatchObject({ active_creates: 0, total_creates: 1, total_failures: 0 });
    expect(workerInfo(server).map((w) => w.tubes)).toEqual([[pair.serverTube]]);

    // Signals on this thread, in order: candidates then the end marker '', 'connected' once.
    const mine = pair.serverSignals.filter((s) => s.tubeId === pair.serverTube);
    expect(mine.length).toBe(pair.serverSignals.length);
    const candidates = mine.filter((s) => s.kind === 'icecandidate').map((s) => s.data);
    expect(candidates.at(-1)).toBe('');
    expect(candidates.slice(0, -1).every((c) => c.startsWith('candidate:'))).toBe(true);
    expect(mine.filter((s) => s.kind === 'connection_state_changed').map((s) => s.data)).toEqual([
      'connected',
    ]);

    const socket = await connect(pair.listenAddr as string);
    const r = await pumpAndCollect(socket, 4 * 1024 * 1024, 11);
    expect(r.received).toBe(4 * 1024 * 1024);
    expect(r.receivedHash).toBe(r.sentHash);
    await waitFor(
      () => Number(server.getLiveStats('conv-1')?.['total_bytes_sent'] ?? 0) >= 4 * 1024 * 1024,
      5_000,
      'live stats pushed by the worker',
    );
    expect(server.getLiveStats('conv-1')).toMatchObject({
      conversation_id: 'conv-1',
      tube_id: pair.serverTube,
    });
    // The worker's figures are the tube's own channel counters: at least the 4 MiB each way that crossed it
    // (frame headers and control frames come on top), and the same shape as an in-thread tube's.
    const stats = await server.getConnectionStats(pair.serverTube);
    const peerStats = await client.getConnectionStats(pair.clientTube);
    expect(Object.keys(stats).sort()).toEqual(Object.keys(peerStats).sort());
    expect(stats.bytes_received).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(stats.bytes_sent).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(peerStats.bytes_sent).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(peerStats.bytes_received).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(stats.rtt_ms).toBeGreaterThan(0);

    await server.closeTube(pair.serverTube);
    expect(server.tubeFound(pair.serverTube)).toBe(false);
    expect(server.getLiveStats('conv-1')).toBeNull();
    expect(server.hasActiveTubes()).toBe(false);
    // Same sequence as an in-thread tube: 'tube_closed' first (then the channel's own end), after 'connected'.
    const kinds = pair.serverSignals.map((s) => s.kind);
    expect(kinds.indexOf('connection_state_changed')).toBeLessThan(kinds.indexOf('channel_closed'));
    const closed = pair.serverSignals.filter((s) => s.kind === 'channel_closed');
    expect(closed.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse((closed[0] as Signal).data)).toMatchObject({
      channel_id: 'conv-1',
      outcome: 'tube_closed',
      close_reason: { code: 12, name: 'AdminClosed' },
    });
    await waitFor(() => !client.tubeFound(pair.clientTube), 5_000, 'the peer tube to close');
  });

  it('runs gateway (client) tubes in workers too, non-trickle, spread over the workers', async () => {
    const port = await echo();
    const server = registry(0);
    const client = registry(2);
    const settings = { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: port };
    const a = await connectTubes({
      server,
      client,
      trickleIce: false,
      clientSettings: settings,
      conversationId: 'a',
    });
    const b = await connectTubes({
      server,
      client,
      trickleIce: false,
      clientSettings: settings,
      conversationId: 'b',
    });
    const placement = workerInfo(client).map((w) => w.tubes);
    expect(placement).toEqual([[a.clientTube], [b.clientTube]]);
    for (const [pair, seed] of [
      [a, 1],
      [b, 2],
    ] as const) {
      const r = await pumpAndCollect(await connect(pair.listenAddr as string), 1024 * 1024, seed);
      expect(r.receivedHash).toBe(r.sentHash);
    }
  });

  it('adds a second conversation to an existing tube in its worker', async () => {
    const port = await echo();
    const server = registry(2);
    const client = registry(0);
    const pair = await connectTubes({
      server,
      client,
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: port },
    });
    // Load the other worker first: the existing tube's worker must still be used.
    const other = await server.createTube({
      conversationId: 'other',
      settings: TUNNEL_SERVER,
      trickleIce: true,
    });
    const second = await server.createTube({
      conversationId: 'conv-2',
      settings: TUNNEL_SERVER,
      trickleIce: true,
      tubeId: pair.serverTube,
    });
    // As in-thread: no new offer; the second channel's own listener address.
    expect(second).toEqual({ tubeId: pair.serverTube, actualLocalListenAddr: expect.any(String) });
    expect(second.actualLocalListenAddr).not.toBe(pair.listenAddr);
    const r = await pumpAndCollect(await connect(second.actualLocalListenAddr as string), 256 * 1024, 5);
    expect(r.receivedHash).toBe(r.sentHash);
    expect(server.getConversationIdsByTubeId(pair.serverTube).sort()).toEqual(['conv-1', 'conv-2']);
    const byTube = new Map(workerInfo(server).flatMap((w) => w.tubes.map((t) => [t, w.index])));
    expect(byTube.get(other.tubeId)).not.toBe(byTube.get(pair.serverTube));
    await waitFor(() => server.getLiveStats('conv-2') !== null, 5_000, 'stats of conv-2');

    await server.closeConnection('conv-2', 0);
    await waitFor(
      () => pair.serverSignals.some((s) => s.kind === 'channel_closed' && s.conversationId === 'conv-2'),
      5_000,
      'channel_closed of conv-2',
    );
    // associateConversation routes closeConnection to the tube's worker.
    server.associateConversation(pair.serverTube, 'alias');
    expect(server.tubeIdFromConnectionId('alias')).toBe(pair.serverTube);
    await server.closeConnection('alias', 0);
    expect(server.tubeFound(pair.serverTube)).toBe(true);
  });

  it('raises the same TubesError codes and messages as the in-thread registry', async () => {
    const w = registry(1);
    const local = registry(0);
    const bad = { conversationId: 'c', settings: { conversationType: 'bogus' }, trickleIce: true };
    const cases: [string, (r: TubeRegistry) => unknown][] = [
      ['getTubeStatus', (r) => r.getTubeStatus('nope')],
      ['getConnectionState', (r) => r.getConnectionState('nope')],
      ['getTubeIdByConversationId', (r) => r.getTubeIdByConversationId('nope')],
      ['createOffer', (r) => r.createOffer('nope')],
      ['createAnswer', (r) => r.createAnswer('nope')],
      ['restartIce', (r) => r.restartIce('nope')],
      ['setRemoteDescription', (r) => r.setRemoteDescription('nope', 'eA==')],
      ['getConnectionStats', (r) => r.getConnectionStats('nope')],
      ['closeTube', (r) => r.closeTube('nope')],
      ['closeConnection', (r) => r.closeConnection('nope', 1)],
      ['createTube bad type', (r) => r.createTube(bad)],
      ['createTube no conversation', (r) => r.createTube({ ...bad, conversationId: '' })],
      [
        'createTube bad offer',
        (r) => r.createTube({ ...bad, settings: { conversationType: 'tunnel' }, offer: '!!not base64!!' }),
      ],
      [
        'createTube bad listen',
        (r) => r.createTube({ ...bad, settings: { ...TUNNEL_SERVER, local_listen_addr: '1.2.3.4.5:0' } }),
      ],
    ];
    const outcome = async (fn: () => unknown): Promise<{ sync: boolean; err: unknown }> => {
      try {
        const p = fn();
        await p;
        return { sync: false, err: undefined };
      } catch (err) {
        return { sync: true, err };
      }
    };
    const syncThrow = (fn: () => unknown): boolean => {
      try {
        const p = fn();
        if (p instanceof Promise) p.catch(() => {});
        return false;
      } catch {
        return true;
      }
    };
    for (const [name, fn] of cases) {
      const expected = await outcome(() => fn(local));
      const got = await outcome(() => fn(w));
      expect(isTubesError(expected.err), `${name}: ${String(expected.err)}`).toBe(true);
      expect(isTubesError(got.err), `${name}: ${String(got.err)}`).toBe(true);
      expect((got.err as Error).message, name).toBe((expected.err as Error).message);
      expect((got.err as { code: string }).code, name).toBe((expected.err as { code: string }).code);
      expect(
        syncThrow(() => fn(w)),
        `${name} throws synchronously iff in-thread does`,
      ).toBe(syncThrow(() => fn(local)));
    }
    await expect(
      w.addIceCandidate('nope', 'candidate:1 1 udp 1 127.0.0.1 9 typ host'),
    ).resolves.toBeUndefined();
    expect(w.tubeFound('nope')).toBe(false);
    expect(w.getLiveStats('nope')).toBeNull();
    expect({ ...w.checkCapacity(), avg_create_time_ms: 0 }).toEqual({
      ...local.checkCapacity(),
      avg_create_time_ms: 0,
    });
    expect(() => new TubeRegistry({ workers: -1 })).toThrow(/workers must be/);
  });

  it('a crashing worker only takes its own tubes; the other worker keeps transferring; a fresh worker replaces it', async () => {
    const port = await echo();
    const server = registry(2);
    const client = registry(0);
    const settings = { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: port };
    const a = await connectTubes({ server, client, clientSettings: settings, conversationId: 'a' });
    const b = await connectTubes({ server, client, clientSettings: settings, conversationId: 'b' });
    const before = workerInfo(server);
    expect(before.map((w) => w.tubes)).toEqual([[a.serverTube], [b.serverTube]]);

    // A call in flight when the worker dies: the hook itself never answers ('throw' crashes the worker).
    const pending = workerTestHookForTests(server, a.serverTube, 'throw');
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(pending).rejects.toThrow(
      /worker 0 exited \(code 1\): worker crash requested by a test hook/,
    );
    expect(server.tubeFound(a.serverTube)).toBe(false);
    expect(server.tubeIdFromConnectionId('a')).toBeUndefined();
    const closed = a.serverSignals.filter((s) => s.kind === 'channel_closed');
    expect(closed).toHaveLength(1);
    expect(JSON.parse((closed[0] as Signal).data)).toEqual({
      channel_id: 'a',
      outcome: WORKER_EXITED_OUTCOME,
      close_reason: { code: 1, name: 'Error', is_critical: true, is_retryable: false },
    });
    await expect(server.closeTube(a.serverTube)).rejects.toMatchObject({ code: ErrorCode.TUBE_NOT_FOUND });

    // The other worker's tube is untouched.
    expect(server.getTubeStatus(b.serverTube)).toBe('ready');
    const rb = await pumpAndCollect(await connect(b.listenAddr as string), 2 * 1024 * 1024, 3);
    expect(rb.receivedHash).toBe(rb.sentHash);

    // The next tube gets a fresh worker in the dead one's place (it had the fewest tubes).
    const c = await connectTubes({ server, client, clientSettings: settings, conversationId: 'c' });
    const after = workerInfo(server);
    expect(after.map((w) => w.tubes)).toEqual([[c.serverTube], [b.serverTube]]);
    expect(after[0]?.threadId).not.toBe(before[0]?.threadId);
    const rc = await pumpAndCollect(await connect(c.listenAddr as string), 1024 * 1024, 4);
    expect(rc.receivedHash).toBe(rc.sentHash);

    // process.exit() inside a worker is a crash of that worker only, too.
    const exitPending = workerTestHookForTests(server, c.serverTube, 'exit');
    await expect(exitPending).rejects.toThrow(/worker 0 exited \(code 3\)/);
    expect(server.allTubeIds()).toEqual([b.serverTube]);
    expect(
      c.serverSignals.some((s) => s.kind === 'channel_closed' && s.data.includes(WORKER_EXITED_OUTCOME)),
    ).toBe(true);
    const rb2 = await pumpAndCollect(await connect(b.listenAddr as string), 512 * 1024, 6);
    expect(rb2.receivedHash).toBe(rb2.sentHash);
  });

  it('a worker that runs out of memory (workerResourceLimits) dies alone', async () => {
    const server = registry(2, { workerResourceLimits: { maxOldGenerationSizeMb: 48 } });
    const a = await server.createTube({ conversationId: 'a', settings: TUNNEL_SERVER, trickleIce: true });
    const b = await server.createTube({ conversationId: 'b', settings: TUNNEL_SERVER, trickleIce: true });
    const signals: Signal[] = [];
    const c = await server.createTube({
      conversationId: 'c',
      settings: TUNNEL_SERVER,
      trickleIce: true,
      onSignal: (s) => signals.push(s),
    });
    const host = new Map(workerInfo(server).flatMap((w) => w.tubes.map((t) => [t, w.index])));
    expect(host.get(c.tubeId)).toBe(host.get(a.tubeId));
    const oom = workerTestHookForTests(server, a.tubeId, 'oom');
    await expect(oom).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(oom).rejects.toThrow(/out of memory/i);
    expect(server.allTubeIds()).toEqual([b.tubeId]);
    const closed = signals.filter((s) => s.kind === 'channel_closed').map((s) => JSON.parse(s.data));
    expect(closed).toEqual([expect.objectContaining({ channel_id: 'c', outcome: WORKER_EXITED_OUTCOME })]);
    expect(server.getTubeStatus(b.tubeId)).toBe('connecting');
  });

  it("loads the same hot-path engine in a worker as on this thread (shared Wasm memory) and forwards the worker's logs", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const server = registry(1, { logger: pino({ level: 'debug' }, sink) });
    const t = await server.createTube({ conversationId: 'c', settings: TUNNEL_SERVER, trickleIce: true });
    const info = (await workerTestHookForTests(server, t.tubeId, 'engine')) as ReturnType<typeof engineInfo>;
    const here = engineInfo();
    expect(info.engine).toBe(here.engine);
    if (info.engine !== 'js') expect(info.wasm[info.engine]).toBe(true);
    await waitFor(() => lines.some((l) => l['msg'] === 'tube worker ready'), 5_000, 'worker log');
    expect(lines.find((l) => l['msg'] === 'tube worker ready')).toMatchObject({ level: 20, worker: 0 });
  });

  it('after cleanupAll a process with a worker-mode registry exits by itself (no handle left)', async () => {
    const file = fileURLToPath(new URL('../fixtures/workers-exit.ts', import.meta.url));
    const r = await runCommand(process.execPath, [file], { timeout: 30_000 });
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString()).toBe('transferred\nclosed\n');
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
  }, 40_000);
});
