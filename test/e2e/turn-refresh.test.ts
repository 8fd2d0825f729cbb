/**
 * Time-limited TURN credentials (TURN REST, coturn use-auth-secret) on a tube that outlives them, for real:
 * tubes in two processes on hosts 0 and 1 (direct UDP between them dropped at the switch, so only the relay
 * carries the tube), a real coturn on host 2 whose allocations are refreshed every few seconds
 * (`--max-allocate-lifetime=4`), credentials valid 3 s.
 * - A live allocation keeps working past the credentials' expiry: coturn answers its Refresh (and data
 *   flows) after the username's timestamp has passed.
 * - coturn restarted (every allocation gone) after the expiry: the tube loses its path and restarts ICE.
 *   With fixed credentials the new allocation is refused (`turn_error`, TUBES_ERR_TURN_AUTH, STUN 401);
 *   with `turnRest` the restart mints fresh ones, gets a new relay allocation and data flows again.
 * - The same with `iceServers` as a function, tubes in this process and coturn on loopback: the provider is
 *   called at createTube and again for the restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import net_ from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTubes, RemoteRegistry } from '../../src/cli/remote.ts';
import {
  ErrorCode,
  type IceServer,
  isTubesError,
  type Signal,
  TubeRegistry,
  type TubeRegistryOptions,
  turnRestCredentials,
} from '../../src/index.ts';
import { withTurnRestCredentials } from '../../src/webrtc/turn-rest.ts';
import {
  type Coturn,
  netnsEcho,
  netnsTransfer,
  startCoturn,
  startLoopbackCoturn,
} from '../helpers/coturn.ts';
import { createNetwork, type Network } from '../helpers/netns.ts';
import { requireNetns, requireTools } from '../helpers/skip.ts';

const skip =
  requireNetns({ named: true, suite: 'TURN refresh tests' }) ??
  requireTools(['turnserver', 'ss'], 'TURN refresh tests');

const SECRET = 'rest-refresh-secret';
const TTL_SECONDS = 3;
const KiB = 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  ms: number,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

/** Usernames coturn allocated for, in order (from its log). */
function allocatedUsers(turn: Coturn): string[] {
  return [...turn.log().matchAll(/: new, realm=<[^>]*>, username=<([^>]+)>/g)].map((m) => m[1] as string);
}

describe.skipIf(skip)('TURN REST credentials expiring during a tube’s life (real coturn)', () => {
  let net: Network;
  let turn: Coturn;
  let echoPort = 0;
  const stops: Array<() => unknown> = [];

  beforeAll(async () => {
    net = await createNetwork(3);
    turn = await startCoturn(net, net.hosts[2]!, {
      authSecret: SECRET,
      port: 3480,
      minPort: 49400,
      // Allocations granted for 4 s: werift refreshes at 5/6 of that, i.e. after the 3 s credentials expired.
      extraArgs: ['--max-allocate-lifetime=4', '--verbose'],
    });
    const echo = await netnsEcho(net, net.hosts[1]!);
    echoPort = echo.port;
    stops.push(echo.stop);
    await net.blockUdpBetween(0, 1);
  }, 60_000);

  afterAll(async () => {
    for (const s of stops.splice(0)) await s();
    await turn?.stop();
    await net?.dispose();
  });

  /**
   * A relayed tube pair whose offerer (`turn_only`) uses `options`; returns once the tube has carried data
   * past the credentials' expiry through a Refresh, and coturn has been restarted.
   */
  async function tubeThroughExpiry(
    label: string,
    options: TubeRegistryOptions,
    tubeServers?: () => IceServer[],
  ) {
    const iceRestart = { disconnectedWaitMs: 500 };
    const a = new RemoteRegistry(
      { ipv6: false, turnTimeoutMs: 5_000, iceRestart, ...options },
      { wrap: net.prefix(net.hosts[0]!) },
    );
    const b = new RemoteRegistry({ ipv6: false, iceRestart }, { wrap: net.prefix(net.hosts[1]!) });
    stops.push(
      () => a.stop(),
      () => b.stop(),
    );
    const signals: Array<Signal & { side: string; at: number }> = [];
    const ids = { server: '', client: '' };
    const usersBefore = allocatedUsers(turn).length;
    await Promise.all([a.tubeFound('warm-up'), b.tubeFound('warm-up')]); // child processes started
    const pair = await connectTubes({
      server: {
        // Credentials of the tube's own made now, not before the child process started (they last 3 s).
        createTube: (o) => a.createTube(tubeServers ? { ...o, iceServers: tubeServers() } : o),
        setRemoteDescription: a.setRemoteDescription.bind(a),
        addIceCandidate: a.addIceCandidate.bind(a),
        getTubeStatus: a.getTubeStatus.bind(a),
      },
      client: b,
      serverSettings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0', turn_only: true },
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echoPort },
      timeoutMs: 20_000,
      onSignal: (side, sig) => {
        signals.push({ ...sig, side, at: Date.now() });
        if (sig.kind !== 'ice_restart_offer') return;
        const [from, fromId, to, toId] =
          side === 'server' ? [a, ids.server, b, ids.client] : [b, ids.client, a, ids.server];
        void to
          .setRemoteDescription(toId, sig.data, false)
          .then((answer) => from.setRemoteDescription(fromId, answer as string, true))
          .catch(() => {});
      },
    });
    ids.server = pair.serverTube;
    ids.client = pair.clientTube;
    const first = (await a.getConnectionStats(pair.serverTube)).selected_candidate_pair;
    expect(first?.local.type).toBe('relay');
    const user = await until('allocation in the coturn log', 5_000, () => allocatedUsers(turn)[usersBefore]);
    const expiresAt = Number(user.split(':')[0]) * 1000;
    const port = pair.listenAddr?.split(':').pop();
    const echo = async (what: string) => {
      const r = await netnsTransfer(net, net.hosts[0]!, `127.0.0.1:${port}`, 256 * KiB);
      expect(r.received, what).toBe(256 * KiB);
      expect(r.receivedSha256, what).toBe(r.sentSha256);
    };
    await echo('before the expiry');
    // The allocation's Refresh after the username's timestamp has passed: coturn accepts it.
    const refreshed = new RegExp(`refreshed, realm=<[^>]*>, username=<${user}>`);
    const refreshSeenAt = await until('Refresh answered', 10_000, () =>
      refreshed.test(turn.log()) ? Date.now() : undefined,
    );
    expect(refreshSeenAt).toBeGreaterThan(expiresAt);
    await until('past the expiry', 5_000, () => Date.now() > expiresAt + 500 || undefined);
    await echo('after the expiry and the Refresh');
    console.log(
      `[turn-refresh] ${label}: relay ${first?.local.address}:${first?.local.port}, credentials ${user} expired ` +
        `${((Date.now() - expiresAt) / 1000).toFixed(1)} s ago, Refresh answered ${((refreshSeenAt - expiresAt) / 1000).toFixed(1)} s after the expiry; data still flows`,
    );
    expect(turn.log()).not.toMatch(new RegExp(`user <${user}>: incoming packet REFRESH processed, error`));
    // Every allocation gone: the tube loses its relay path and restarts ICE.
    const restartedAt = Date.now();
    await turn.restart();
    return { a, b, pair, signals, user, restartedAt, usersBefore, echo };
  }

  it('fixed credentials: after the expiry a restart cannot allocate (turn_error TUBES_ERR_TURN_AUTH)', async () => {
    const t = await tubeThroughExpiry('fixed credentials', {}, () => {
      const c = turnRestCredentials({ secret: SECRET, user: 'fixed', ttlSeconds: TTL_SECONDS });
      return [{ urls: turn.url('udp'), username: c.username, credential: c.credential }];
    });
    const err = await until('turn_error after the coturn restart', 20_000, () =>
      t.signals.find((s) => s.side === 'server' && s.kind === 'turn_error' && s.at >= t.restartedAt),
    );
    const data = JSON.parse(err.data) as Record<string, unknown>;
    console.log(
      `[turn-refresh] fixed credentials: ${((err.at - t.restartedAt) / 1000).toFixed(1)} s after the coturn restart: ${err.data}`,
    );
    expect(data).toMatchObject({ url: turn.url('udp'), code: ErrorCode.TURN_AUTH, stun_error_code: 401 });
    expect(t.signals.some((s) => s.side === 'server' && s.kind === 'ice_restart_offer')).toBe(true);
    await Promise.all([t.a.stop(), t.b.stop()]);
  }, 60_000);

  it('turnRest: the restart after the expiry mints fresh credentials, allocates again and data flows', async () => {
    const t = await tubeThroughExpiry('turnRest', {
      iceServers: [{ urls: turn.url('udp') }],
      turnRest: { secret: SECRET, user: 'minted', ttlSeconds: TTL_SECONDS },
    });
    const fresh = await until('a new allocation after the coturn restart', 20_000, () =>
      allocatedUsers(turn)
        .slice(t.usersBefore + 1)
        .find((u) => u.endsWith(':minted')),
    );
    expect(fresh).not.toBe(t.user);
    expect(Number(fresh.split(':')[0])).toBeGreaterThan(Number(t.user.split(':')[0]));
    const back = await until('connected again', 20_000, () =>
      t.signals.find(
        (s) =>
          s.side === 'server' &&
          s.kind === 'connection_state_changed' &&
          s.data === 'connected' &&
          s.at >= t.restartedAt,
      ),
    );
    await t.echo('after the restart');
    const pair = (await t.a.getConnectionStats(t.pair.serverTube)).selected_candidate_pair;
    console.log(
      `[turn-refresh] turnRest: new allocation for ${fresh}, connected again ${((back.at - t.restartedAt) / 1000).toFixed(1)} s after the coturn restart, relay ${pair?.local.address}:${pair?.local.port}`,
    );
    expect(pair?.local.type).toBe('relay');
    expect(t.signals.filter((s) => s.side === 'server' && s.kind === 'turn_error')).toEqual([]);
    await Promise.all([t.a.stop(), t.b.stop()]);
  }, 60_000);
});

describe.skipIf(requireTools(['turnserver', 'ss'], 'TURN refresh (loopback) test'))(
  'iceServers as a function (tubes in this process, coturn on loopback)',
  () => {
    let turn: Coturn;
    let echo: net_.Server;
    const registries: TubeRegistry[] = [];

    beforeAll(async () => {
      turn = await startLoopbackCoturn({
        authSecret: SECRET,
        port: 34791,
        minPort: 49700,
        extraArgs: ['--max-allocate-lifetime=4', '--verbose'],
      });
      echo = net_.createServer((socket) => socket.pipe(socket));
      await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    }, 30_000);

    afterAll(async () => {
      for (const r of registries) await r.cleanupAll();
      echo?.close();
      await turn?.stop();
    });

    async function transfer(addr: string, bytes: number): Promise<void> {
      const data = randomBytes(bytes);
      const socket = net_.connect(Number(addr.split(':').pop()), '127.0.0.1');
      const chunks: Buffer[] = [];
      let got = 0;
      await new Promise<void>((resolve, reject) => {
        socket.on('data', (d: Buffer) => {
          chunks.push(d);
          got += d.length;
          if (got >= bytes) resolve();
        });
        socket.on('error', reject);
        socket.write(data);
      });
      socket.destroy();
      const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect(hash(Buffer.concat(chunks))).toBe(hash(data));
    }

    it('the provider is called at createTube and for the restart, whose fresh allocation carries the data', async () => {
      const calls: number[] = [];
      const provider = async (): Promise<IceServer[]> => {
        calls.push(Date.now());
        const c = turnRestCredentials({ secret: SECRET, user: 'fn', ttlSeconds: TTL_SECONDS });
        return [{ urls: turn.url('udp'), username: c.username, credential: c.credential }];
      };
      const loopback = { hostAddresses: ['127.0.0.1'], hostAddressesOnly: true, ipv6: false };
      const iceRestart = { disconnectedWaitMs: 500 };
      const a = new TubeRegistry({ ...loopback, iceRestart, iceServers: provider, turnTimeoutMs: 5_000 });
      const b = new TubeRegistry({ ...loopback, iceRestart });
      registries.push(a, b);
      const signals: Array<Signal & { side: string; at: number }> = [];
      const ids = { server: '', client: '' };
      const pair = await connectTubes({
        server: a,
        client: b,
        serverSettings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0', turn_only: true },
        clientSettings: {
          conversationType: 'tunnel',
          target_host: '127.0.0.1',
          target_port: (echo.address() as net_.AddressInfo).port,
        },
        onSignal: (side, sig) => {
          signals.push({ ...sig, side, at: Date.now() });
          if (sig.kind !== 'ice_restart_offer') return;
          void b
            .setRemoteDescription(ids.client, sig.data, false)
            .then((answer) => a.setRemoteDescription(ids.server, answer as string, true))
            .catch(() => {});
        },
      });
      ids.server = pair.serverTube;
      ids.client = pair.clientTube;
      expect(calls.length).toBe(1);
      expect((await a.getConnectionStats(pair.serverTube)).selected_candidate_pair?.local.type).toBe('relay');
      const user = await until('allocation', 5_000, () => allocatedUsers(turn)[0]);
      await transfer(pair.listenAddr as string, 256 * KiB);
      await until('past the expiry', 5_000, () => Date.now() > Number(user.split(':')[0]) * 1000 + 300);
      const restartedAt = Date.now();
      await turn.restart();
      const fresh = await until('a new allocation', 20_000, () =>
        allocatedUsers(turn).find((u) => u !== user),
      );
      await until('connected again', 20_000, () =>
        signals.some(
          (s) =>
            s.side === 'server' &&
            s.kind === 'connection_state_changed' &&
            s.data === 'connected' &&
            s.at >= restartedAt,
        ),
      );
      await transfer(pair.listenAddr as string, 256 * KiB);
      console.log(
        `[turn-refresh] provider: ${calls.length} calls, allocations ${user} then ${fresh}, data through the new relay`,
      );
      expect(calls.length).toBeGreaterThanOrEqual(2);
      expect(fresh.endsWith(':fn')).toBe(true);
      expect(signals.filter((s) => s.side === 'server' && s.kind === 'turn_error')).toEqual([]);
    }, 40_000);

    it('turnRest reaches worker threads: the worker mints the credentials it allocates with', async () => {
      const w = new TubeRegistry({
        workers: 1,
        hostAddresses: ['127.0.0.1'],
        hostAddressesOnly: true,
        ipv6: false,
        iceServers: [{ urls: turn.url('udp') }],
        turnRest: { secret: SECRET, user: 'worker', ttlSeconds: 600 },
      });
      registries.push(w);
      const errors: Signal[] = [];
      await w.createTube({
        conversationId: 'in-worker',
        settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0', turn_only: true },
        trickleIce: true,
        onSignal: (sig) => {
          if (sig.kind === 'turn_error') errors.push(sig);
        },
      });
      const user = await until('allocation from the worker', 10_000, () =>
        allocatedUsers(turn).find((u) => u.endsWith(':worker')),
      );
      expect(Number(user.split(':')[0]) * 1000).toBeGreaterThan(Date.now() + 500_000);
      expect(errors).toEqual([]);
    }, 20_000);
  },
);

describe('fresh TURN credentials: the options', () => {
  const settings = { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0', turn_only: true };

  it('turnRest fills the TURN entries given without credentials, nothing else', () => {
    const now = Date.UTC(2030, 0, 1);
    const servers = withTurnRestCredentials(
      [
        { urls: 'stun:192.0.2.1' },
        { urls: ['turn:192.0.2.2', 'turns:192.0.2.2'] },
        { urls: 'turn:192.0.2.3', username: 'u', credential: 'p' },
      ],
      { secret: SECRET, user: 'gw', ttlSeconds: 60 },
      now,
    );
    const expected = turnRestCredentials({ secret: SECRET, user: 'gw', ttlSeconds: 60, now });
    expect(servers).toEqual([
      { urls: 'stun:192.0.2.1' },
      {
        urls: ['turn:192.0.2.2', 'turns:192.0.2.2'],
        username: expected.username,
        credential: expected.credential,
      },
      { urls: 'turn:192.0.2.3', username: 'u', credential: 'p' },
    ]);
    expect(withTurnRestCredentials([{ urls: 'turn:192.0.2.2' }], undefined)).toEqual([
      { urls: 'turn:192.0.2.2' },
    ]);
  });

  it('bad turnRest, a function with workers, a failing or wrong provider: TUBES_ERR_BAD_ARGUMENT', async () => {
    const bad = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(
      isTubesError(
        bad(() => new TubeRegistry({ turnRest: { secret: '' } })),
        ErrorCode.BAD_ARGUMENT,
      ),
    ).toBe(true);
    expect(
      isTubesError(
        bad(() => new TubeRegistry({ turnRest: { secret: 's', ttlSeconds: -1 } })),
        ErrorCode.BAD_ARGUMENT,
      ),
    ).toBe(true);
    const inWorkers = bad(() => new TubeRegistry({ workers: 1, iceServers: () => [] }));
    expect(isTubesError(inWorkers, ErrorCode.BAD_ARGUMENT)).toBe(true);
    expect((inWorkers as Error).message).toMatch(/turnRest/);
    const r = new TubeRegistry({ turnRest: { secret: 's' }, iceServers: [{ urls: 'turn:192.0.2.9' }] });
    const create = (iceServers: unknown) =>
      r
        .createTube({
          conversationId: 'c',
          settings,
          trickleIce: true,
          iceServers: iceServers as IceServer[],
        })
        .catch((e: unknown) => e);
    const threw = await create(() => {
      throw new Error('credential service down');
    });
    expect(isTubesError(threw, ErrorCode.BAD_ARGUMENT)).toBe(true);
    expect((threw as Error).message).toBe('iceServers provider failed: credential service down');
    expect(isTubesError(await create(async () => 'no list'), ErrorCode.BAD_ARGUMENT)).toBe(true);
    expect(isTubesError(await create('turn:192.0.2.9'), ErrorCode.BAD_ARGUMENT)).toBe(true);
    // turn_only with a provider that gives no TURN server: the settings' error, as with a list.
    expect(isTubesError(await create(() => []), ErrorCode.BAD_SETTINGS)).toBe(true);
    expect(r.activeTubeCount()).toBe(0);
    await r.cleanupAll();
  });
});
