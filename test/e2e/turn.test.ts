/**
 * TURN relays, for real: three "machines" (network namespaces, test/helpers/netns.ts), the two tubes in two
 * processes on hosts 0 and 1, a real coturn on host 2. Direct UDP between hosts 0 and 1 is dropped at the
 * switch, so only a relay can carry the tube:
 * - turn_only over TURN/UDP, TURN/TCP and TURN/TLS (turns:): the selected pair is relay (with the relay
 *   transport named) and 16 MiB go through a TCP tunnel and back with equal sha256;
 * - TURN REST credentials (turnRestCredentials) accepted by a use-auth-secret coturn, expired ones refused;
 * - wrong credentials: a `turn_error` naming the server with TUBES_ERR_TURN_AUTH within a second, the
 *   relay-only tube closed at once (trickle) or createTube rejected (non-trickle); no hang;
 * - TURN down (before the UDP block): reported promptly while the host candidates connect the tube.
 * Figures (createTube time, time to the TURN error) are printed, not asserted tightly.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTubes, RemoteRegistry } from '../../src/cli/remote.ts';
import {
  ErrorCode,
  isTubesError,
  type Signal,
  type TubeRegistryOptions,
  turnRestCredentials,
} from '../../src/index.ts';
import { type Coturn, netnsEcho, netnsTransfer, startCoturn } from '../helpers/coturn.ts';
import { createNetwork, type Network } from '../helpers/netns.ts';
import { requireNetns, requireTools } from '../helpers/skip.ts';

const skip =
  requireNetns({ named: true, suite: 'TURN relay tests' }) ??
  requireTools(['turnserver', 'openssl', 'ss'], 'TURN relay tests');

const MiB = 1024 * 1024;
const USER = 'tunnel';
const PASS = 'tunnelpass';
const SECRET = 'rest-shared-secret';

describe.skipIf(skip)('TURN relays through a real coturn (3 namespaces)', () => {
  let net: Network;
  let turn: Coturn;
  let rest: Coturn;
  let echoPort = 0;
  const stops: Array<() => unknown> = [];

  beforeAll(async () => {
    net = await createNetwork(3);
    const h2 = net.hosts[2]!;
    turn = await startCoturn(net, h2, { users: { [USER]: PASS }, port: 3478, tlsPort: 5349, minPort: 49160 });
    rest = await startCoturn(net, h2, { authSecret: SECRET, port: 3479, minPort: 49300 });
    const echo = await netnsEcho(net, net.hosts[1]!);
    echoPort = echo.port;
    stops.push(echo.stop);
  }, 60_000);

  afterAll(async () => {
    for (const s of stops.splice(0)) await s();
    await turn?.stop();
    await rest?.stop();
    await net?.dispose();
  });

  function registries(options: TubeRegistryOptions = {}): { a: RemoteRegistry; b: RemoteRegistry } {
    const base: TubeRegistryOptions = {
      ipv6: false,
      // A loaded CI machine may take seconds to allocate; the failure tests set their own bound.
      turnTimeoutMs: 15_000,
      ...(process.env['TUBES_TURN_DEBUG'] ? { logger: pino({ level: 'debug' }) } : {}),
      ...options,
    };
    const a = new RemoteRegistry(base, { wrap: net.prefix(net.hosts[0]!) });
    const b = new RemoteRegistry(base, { wrap: net.prefix(net.hosts[1]!) });
    stops.push(
      () => a.stop(),
      () => b.stop(),
    );
    return { a, b };
  }

  const settings = (extra: Record<string, unknown>) => ({
    server: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0', ...extra },
    client: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echoPort },
  });

  let blocked = false;
  async function blockDirectUdp(): Promise<void> {
    if (!blocked) await net.blockUdpBetween(0, 1);
    blocked = true;
  }

  async function relayedTransfer(
    label: string,
    extra: Record<string, unknown>,
    options: TubeRegistryOptions,
    expectRelay: 'udp' | 'tcp' | 'tls',
    bytes = 16 * MiB,
  ): Promise<void> {
    const { a, b } = registries(options);
    const s = settings(extra);
    const pair = await connectTubes({
      server: a,
      client: b,
      serverSettings: s.server,
      clientSettings: s.client,
      timeoutMs: 30_000,
    });
    const stats = await a.getConnectionStats(pair.serverTube);
    console.log(
      `[turn] ${label}: ready in ${pair.createToReadyMs.toFixed(0)} ms, pair ${JSON.stringify(stats.selected_candidate_pair)}`,
    );
    expect(stats.selected_candidate_pair?.local.type).toBe('relay');
    expect(stats.selected_candidate_pair?.local.relay_protocol).toBe(expectRelay);
    expect(stats.selected_candidate_pair?.local.address).toBe(net.hosts[2]!.address);
    // Only relay candidates were offered by the turn_only side.
    const offered = pair.serverSignals.filter((x) => x.kind === 'icecandidate' && x.data !== '');
    expect(offered.length).toBeGreaterThan(0);
    expect(offered.every((x) => / typ relay /.test(x.data))).toBe(true);
    const port = pair.listenAddr?.split(':').pop();
    const r = await netnsTransfer(net, net.hosts[0]!, `127.0.0.1:${port}`, bytes);
    console.log(
      `[turn] ${label}: ${bytes / MiB} MiB echoed in ${r.ms.toFixed(0)} ms (${((2 * bytes) / MiB / (r.ms / 1000)).toFixed(1)} MiB/s both ways)`,
    );
    expect(r.received).toBe(bytes);
    expect(r.receivedSha256).toBe(r.sentSha256);
    await Promise.all([a.stop(), b.stop()]);
  }

  // Runs first: direct UDP still works here.
  it('TURN down: reported promptly, while the host candidates connect the tube', async () => {
    const { a, b } = registries({ turnTimeoutMs: 4_000 });
    const down = [
      { urls: `stun:${net.hosts[2]!.address}:3478` }, // coturn answers STUN too: a server-reflexive candidate
      { urls: `turn:${net.hosts[2]!.address}:3999`, username: USER, credential: PASS },
      { urls: `turn:${net.hosts[2]!.address}:3999?transport=tcp`, username: USER, credential: PASS },
    ];
    await Promise.all([a.tubeFound('warm-up'), b.tubeFound('warm-up')]); // child processes started
    const t0 = performance.now();
    let createMs = 0;
    const errors: Array<{ at: number; data: Record<string, unknown> }> = [];
    const s = settings({});
    const first = await a.createTube({
      conversationId: 'probe',
      settings: s.server,
      trickleIce: true,
      iceServers: down,
    });
    createMs = performance.now() - t0;
    expect(first.offer).toBeDefined();
    await a.closeTube(first.tubeId);
    console.log(`[turn] TURN down: createTube (trickle) returned in ${createMs.toFixed(0)} ms`);
    // Waiting for the silent server would take turnTimeoutMs (werift alone: 6.4 s); generous for loaded machines.
    expect(createMs).toBeLessThan(3_000);
    // The same servers on a real pair: the tube connects directly, the errors arrive on their own.
    const t1 = performance.now();
    const pair = await connectTubes({
      server: {
        createTube: (o) => a.createTube({ ...o, iceServers: down }),
        setRemoteDescription: a.setRemoteDescription.bind(a),
        addIceCandidate: a.addIceCandidate.bind(a),
        getTubeStatus: a.getTubeStatus.bind(a),
      },
      client: b,
      serverSettings: s.server,
      clientSettings: s.client,
      timeoutMs: 15_000,
      onSignal: (_side, sig) => {
        if (sig.kind === 'turn_error')
          errors.push({ at: performance.now() - t1, data: JSON.parse(sig.data) });
      },
    });
    const stats = await a.getConnectionStats(pair.serverTube);
    expect(stats.selected_candidate_pair?.local.type).toBe('host');
    await new Promise((r) => setTimeout(r, 300));
    expect(pair.serverSignals.some((x) => x.kind === 'icecandidate' && / typ srflx /.test(x.data))).toBe(
      true,
    );
    const deadline = performance.now() + 8_000;
    while (errors.length < 2 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const e of errors)
      console.log(`[turn] TURN down: turn_error after ${e.at.toFixed(0)} ms: ${JSON.stringify(e.data)}`);
    const tcp = errors.find((e) => String(e.data['url']).endsWith('transport=tcp'));
    const udp = errors.find((e) => !String(e.data['url']).endsWith('transport=tcp'));
    expect(tcp?.data).toMatchObject({ code: ErrorCode.TURN_UNREACHABLE, relay_only: false });
    expect(String(tcp?.data['message'])).toMatch(/ECONNREFUSED/);
    expect(udp?.data).toMatchObject({ code: ErrorCode.TURN_UNREACHABLE });
    expect(String(udp?.data['message'])).toMatch(/no allocation within 4000 ms/);
    await Promise.all([a.stop(), b.stop()]);
  }, 60_000);

  it('turn_only over TURN/UDP: the pair is relay and 16 MiB go through with equal sha256', async () => {
    await blockDirectUdp();
    await relayedTransfer(
      'turn_only UDP',
      { turn_url: turn.url('udp'), turn_username: USER, turn_password: PASS, turn_only: true },
      {},
      'udp',
    );
  }, 120_000);

  it('turn_only over TURN/TCP (?transport=tcp)', async () => {
    await blockDirectUdp();
    await relayedTransfer(
      'turn_only TCP',
      { turn_url: turn.url('tcp'), turn_username: USER, turn_password: PASS, turn_only: true },
      {},
      'tcp',
    );
  }, 120_000);

  it('turn_only over TURN/TLS (turns:), the server certificate trusted through turnTls', async () => {
    await blockDirectUdp();
    await relayedTransfer(
      'turn_only TLS',
      { turn_url: turn.url('tls'), turn_username: USER, turn_password: PASS, turn_only: true },
      { turnTls: { ca: turn.certPem } },
      'tls',
    );
  }, 120_000);

  it('TURN REST credentials (turnRestCredentials) are accepted through iceServers', async () => {
    await blockDirectUdp();
    const c = turnRestCredentials({ secret: SECRET, user: 'alice', ttlSeconds: 600 });
    await relayedTransfer(
      'REST credentials',
      { turn_only: true },
      { iceServers: [{ urls: rest.url('udp'), username: c.username, credential: c.credential }] },
      'udp',
      4 * MiB,
    );
  }, 120_000);

  async function refused(
    label: string,
    iceServer: { urls: string; username: string; credential: string },
    code: string,
  ): Promise<void> {
    const { a } = registries();
    await a.tubeFound('warm-up'); // child process started
    const signals: Array<{ at: number; sig: Signal }> = [];
    const t0 = performance.now();
    const r = await a.createTube({
      conversationId: 'refused',
      settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0', turn_only: true },
      trickleIce: true,
      iceServers: [iceServer],
      onSignal: (sig) => signals.push({ at: performance.now() - t0, sig }),
    });
    const createMs = performance.now() - t0;
    while (!signals.some((x) => x.sig.kind === 'tube_closed') && performance.now() - t0 < 10_000) {
      await new Promise((x) => setTimeout(x, 20));
    }
    const err = signals.find((x) => x.sig.kind === 'turn_error');
    const closed = signals.find((x) => x.sig.kind === 'tube_closed');
    console.log(
      `[turn] ${label}: createTube ${createMs.toFixed(0)} ms; turn_error after ${err?.at.toFixed(0)} ms: ${err?.sig.data}; tube_closed after ${closed?.at.toFixed(0)} ms`,
    );
    // werift alone: 12.7 s before createTube returned, and no word about credentials (bounds kept loose for
    // loaded machines; the figures are printed above).
    expect(createMs).toBeLessThan(3_000);
    expect(JSON.parse(err?.sig.data ?? '{}')).toMatchObject({ url: iceServer.urls, code, relay_only: true });
    expect(err?.at).toBeLessThan(4_000);
    expect(JSON.parse(closed?.sig.data ?? '{}')).toMatchObject({
      close_reason: { name: 'ConnectionFailed' },
    });
    expect(await a.tubeFound(r.tubeId)).toBe(false);
    // Non-trickle: createTube itself rejects with the TURN error.
    const t1 = performance.now();
    const rejected = await a
      .createTube({
        conversationId: 'refused-2',
        settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0', turn_only: true },
        trickleIce: false,
        iceServers: [iceServer],
      })
      .catch((e: unknown) => e);
    const rejectMs = performance.now() - t1;
    console.log(
      `[turn] ${label}: non-trickle createTube rejected after ${rejectMs.toFixed(0)} ms: ${(rejected as Error).message}`,
    );
    expect(isTubesError(rejected, code as never)).toBe(true);
    expect((rejected as Error).message).toContain(iceServer.urls);
    expect(rejectMs).toBeLessThan(4_000);
    await a.stop();
  }

  it('wrong TURN credentials: TUBES_ERR_TURN_AUTH naming the server as soon as it answers, no hang', async () => {
    await refused(
      'wrong password',
      { urls: turn.url('udp'), username: USER, credential: 'wrong' },
      ErrorCode.TURN_AUTH,
    );
    await refused(
      'wrong password over TCP',
      { urls: turn.url('tcp'), username: USER, credential: 'wrong' },
      ErrorCode.TURN_AUTH,
    );
  }, 60_000);

  it('expired TURN REST credentials are refused the same way', async () => {
    const c = turnRestCredentials({
      secret: SECRET,
      user: 'alice',
      ttlSeconds: 60,
      now: Date.now() - 3_600_000,
    });
    await refused(
      'expired REST credentials',
      { urls: rest.url('udp'), username: c.username, credential: c.credential },
      ErrorCode.TURN_AUTH,
    );
  }, 60_000);
});
