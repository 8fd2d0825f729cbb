/**
 * `tubes gateway` / `tubes connect` on loopback: the HTTP signalling's hardening against bad requests
 * (in-process: a real SignallingServer over a real TubeRegistry, so "no tube created" is observable), and
 * both commands as real processes — HTTP signalling and `--signal stdio` through pipes — carrying data.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SignallingClient } from '../../src/cli/signalling-client.ts';
import { SignallingServer } from '../../src/cli/signalling-server.ts';
import { decodeToken, encodeToken } from '../../src/cli/stdio-token.ts';
import { silentLogger } from '../../src/log.ts';
import { TubeRegistry } from '../../src/registry/registry.ts';
import { encodeSdpBase64 } from '../../src/webrtc/sdp.ts';
import { CLI, CLI_FLAGS, exitOf, lineOf } from '../helpers/cli.ts';
import { connect, echoServer, LOOPBACK, pumpAndCollect, waitFor } from '../helpers/tubes.ts';

interface Raw {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function request(
  url: string,
  method: string,
  opts: { token?: string; body?: string | Buffer; type?: string; headers?: Record<string, string> } = {},
): Promise<Raw> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) {
    headers['content-type'] = opts.type ?? 'text/plain';
    headers['content-length'] = String(Buffer.byteLength(opts.body));
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          headers: res.headers,
        }),
      );
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('gateway HTTP signalling (in-process)', () => {
  const gateway = new TubeRegistry(LOOPBACK);
  const client = new TubeRegistry(LOOPBACK);
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let signalling: SignallingServer;
  let server: http.Server;
  let base = '';

  beforeAll(async () => {
    echo = await echoServer();
    signalling = new SignallingServer({
      registry: gateway,
      settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
      service: 'tunnel',
      tokens: ['alpha-token', 'beta-token'],
      logger: silentLogger(),
      maxBodyBytes: 16 * 1024,
      maxSessionsPerToken: 3,
      gatherWaitMs: 500,
    });
    server = http.createServer(signalling.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tubes`;
  });

  afterAll(async () => {
    await signalling.stop();
    server.close();
    await gateway.cleanupAll();
    await client.cleanupAll();
    await echo.close();
  });

  async function offer(conversationId: string): Promise<{ tubeId: string; offer: string; listen: string }> {
    const r = await client.createTube({
      conversationId,
      settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
      trickleIce: false,
    });
    return { tubeId: r.tubeId, offer: r.offer as string, listen: r.actualLocalListenAddr as string };
  }

  it('refuses a request without a token or with a wrong one (401) and creates no tube', async () => {
    const { offer: sdp } = await offer('conv-401');
    const none = await request(base, 'POST', { body: sdp, headers: { 'tubes-conversation-id': 'x1' } });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const wrong = await request(base, 'POST', {
      token: 'alpha-tokem',
      body: sdp,
      headers: { 'tubes-conversation-id': 'x2' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatch(/Invalid token/);
    expect(gateway.activeTubeCount()).toBe(0);
    expect((await request(base, 'GET')).status).toBe(401);
  });

  it('answers 413 for an oversized body, 400 with a clear message for a malformed SDP', async () => {
    const big = await request(base, 'POST', {
      token: 'alpha-token',
      body: Buffer.alloc(64 * 1024, 'A'),
      headers: { 'tubes-conversation-id': 'big' },
    });
    expect(big.status).toBe(413);
    const notBase64 = await request(base, 'POST', {
      token: 'alpha-token',
      body: 'this is not base64!',
      headers: { 'tubes-conversation-id': 'bad1' },
    });
    expect(notBase64.status).toBe(400);
    expect(notBase64.body).toMatch(/Failed to decode offer from base64/);
    const notSdp = await request(base, 'POST', {
      token: 'alpha-token',
      body: 'hello',
      type: 'application/sdp',
      headers: { 'tubes-conversation-id': 'bad2' },
    });
    expect(notSdp.status).toBe(400);
    expect(notSdp.body).toMatch(/not an SDP/);
    const garbageSdp = await request(base, 'POST', {
      token: 'alpha-token',
      body: encodeSdpBase64('v=0\r\nthis is no session description\r\n'),
      headers: { 'tubes-conversation-id': 'bad3' },
    });
    expect(garbageSdp.status).toBe(400);
    expect(garbageSdp.body).toMatch(/not a WebRTC data-channel offer: missing an m=application/);
    const noConversation = await request(base, 'POST', { token: 'alpha-token', body: 'x' });
    expect(noConversation.status).toBe(400);
    expect(noConversation.body).toMatch(/Tubes-Conversation-Id/);
    expect(gateway.activeTubeCount()).toBe(0);
  });

  it('keeps serving after 1,000 bad requests and holds no tube for them', async () => {
    const kinds = [
      () => request(base, 'POST', { body: 'x', headers: { 'tubes-conversation-id': 'n' } }),
      () => request(base, 'POST', { token: 'nope', body: 'x' }),
      () => request(`${base}/no-such-session`, 'DELETE', { token: 'alpha-token' }),
      () =>
        request(base, 'POST', {
          token: 'alpha-token',
          body: 'AAAA',
          headers: { 'tubes-conversation-id': 'b' },
        }),
      () => request(base, 'PUT', { token: 'alpha-token' }),
      () => request(`${base}/../../etc/passwd`, 'GET', { token: 'alpha-token' }),
    ];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, j) => (kinds[(i + j) % kinds.length] as () => Promise<Raw>)()),
      );
      for (const r of batch) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
    expect(gateway.activeTubeCount()).toBe(0);
    expect(signalling.sessionCount).toBe(0);
    const info = await request(base, 'GET', { token: 'beta-token' });
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body)).toEqual({ service: 'tunnel', conversationType: 'tunnel' });
  });

  it('creates a session (201 + Location), carries data, refuses another token, and DELETE closes the tube', async () => {
    const c = await offer('conv-ok');
    const api = new SignallingClient(base, { token: 'alpha-token' });
    const { answer, session } = await api.create('conv-ok', c.offer);
    expect(session.pathname).toMatch(/^\/tubes\/[0-9a-f-]{36}$/);
    await client.setRemoteDescription(c.tubeId, answer, true);
    await waitFor(() => client.getTubeStatus(c.tubeId) === 'ready', 15_000, 'offerer ready');
    expect(gateway.activeTubeCount()).toBe(1);
    await sha256Echo(c.listen, 1024 * 1024);

    // another token may neither read nor delete the session
    const other = await request(session.href, 'DELETE', { token: 'beta-token' });
    expect(other.status).toBe(403);
    const peek = await request(session.href, 'GET', { token: 'beta-token' });
    expect(peek.status).toBe(403);
    const frag = await request(session.href, 'GET', { token: 'alpha-token' });
    expect(frag.status).toBe(200);
    expect(frag.headers['content-type']).toBe('application/trickle-ice-sdpfrag');
    expect(frag.body).toMatch(/a=candidate:/);

    const gatewayTube = gateway.allTubeIds()[0] as string;
    await api.end(session);
    expect(gateway.tubeFound(gatewayTube)).toBe(false);
    expect(signalling.sessionCount).toBe(0);
    await waitFor(() => !client.tubeFound(c.tubeId) || client.getTubeStatus(c.tubeId) === 'closed', 10_000);
  });

  it('limits sessions per token (429) and accepts raw application/sdp', async () => {
    const api = new SignallingClient(base, { token: 'beta-token' });
    const made: URL[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await offer(`conv-lim-${i}`);
      made.push((await api.create(`conv-lim-${i}`, c.offer)).session);
    }
    const c = await offer('conv-lim-3');
    const over = await request(base, 'POST', {
      token: 'beta-token',
      body: Buffer.from(c.offer, 'base64').toString(),
      type: 'application/sdp',
      headers: { 'tubes-conversation-id': 'conv-lim-3' },
    });
    expect(over.status).toBe(429);
    await api.end(made[0] as URL);
    const ok = await request(base, 'POST', {
      token: 'beta-token',
      body: Buffer.from(c.offer, 'base64').toString(),
      type: 'application/sdp',
      headers: { 'tubes-conversation-id': 'conv-lim-3' },
    });
    expect(ok.status).toBe(201);
    expect(ok.headers['content-type']).toBe('application/sdp');
    expect(ok.body.startsWith('v=0')).toBe(true);
    await signalling.stop();
    expect(signalling.sessionCount).toBe(0);
    expect(gateway.activeTubeCount()).toBe(0);
  });
});

function startCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [...CLI_FLAGS, CLI, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}

async function sha256Echo(addr: string, bytes: number): Promise<void> {
  const r = await pumpAndCollect(await connect(addr), bytes);
  expect(r.received).toBe(bytes);
  expect(r.receivedHash).toBe(r.sentHash);
}

describe('tubes gateway / tubes connect (processes on loopback)', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    echo = await echoServer();
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    await echo.close();
  });

  it('HTTP: connect reaches the gateway target, a wrong token exits 3, SIGTERM stops both with exit 0', async () => {
    const gw = startCli([
      'gateway',
      '--target',
      `127.0.0.1:${echo.port}`,
      '--listen',
      '127.0.0.1:0',
      '--ice-host',
      '127.0.0.1',
    ]);
    children.push(gw);
    const gwOut = createInterface({ input: gw.stdout as NodeJS.ReadableStream });
    const header: string[] = [];
    await new Promise<void>((resolve) =>
      gwOut.on('line', (l) => {
        header.push(l);
        if (header.length === 2) resolve();
      }),
    );
    const url = /^gateway (\S+) \(tunnel\)$/.exec(header[0] as string)?.[1] as string;
    const token = /^token (\S+)$/.exec(header[1] as string)?.[1] as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/tubes$/);
    expect(token.length).toBeGreaterThanOrEqual(32);

    const denied = startCli(['connect', url, '--token', 'wrong', '--local', '127.0.0.1:0']);
    children.push(denied);
    expect(await exitOf(denied)).toBe(3);

    const t0 = performance.now();
    const cn = startCli(['connect', url, '--local', '127.0.0.1:0', '--ice-host', '127.0.0.1'], {
      TUBES_TOKEN: token,
    });
    children.push(cn);
    const listening = await lineOf(cn, /^listening (\S+)$/);
    console.log(
      `[cli] connect → listening in ${(performance.now() - t0).toFixed(0)} ms (process start included)`,
    );
    await sha256Echo(listening[1] as string, 8 * 1024 * 1024);

    cn.kill('SIGTERM');
    expect(await exitOf(cn)).toBe(0);
    gw.kill('SIGTERM');
    expect(await exitOf(gw)).toBe(0);
  });

  it('stdio: the offer and answer lines cross two pipes and the tunnel carries data', async () => {
    const gw = startCli([
      'gateway',
      '--signal',
      'stdio',
      '--target',
      `127.0.0.1:${echo.port}`,
      '--ice-host',
      '127.0.0.1',
    ]);
    const cn = startCli([
      'connect',
      '--signal',
      'stdio',
      '--local',
      '127.0.0.1:0',
      '--ice-host',
      '127.0.0.1',
    ]);
    children.push(gw, cn);
    const offerLine = (await lineOf(cn, /^(tubes1:\S+)$/))[1] as string;
    expect(decodeToken(offerLine, 'offer').conversationId).toMatch(/^tubes-/);
    gw.stdin?.write(`${offerLine}\n`);
    const answerLine = (await lineOf(gw, /^(tubes1:\S+)$/))[1] as string;
    const answer = decodeToken(answerLine, 'answer');
    expect(answer.conversationType).toBe('tunnel');
    cn.stdin?.write(`${answerLine}\n`);
    const listening = await lineOf(cn, /^listening (\S+)$/);
    await sha256Echo(listening[1] as string, 2 * 1024 * 1024);
    // a token of the wrong kind is refused with a message, and the gateway keeps going
    gw.stdin?.write(`${encodeToken({ ...answer, kind: 'answer' })}\n`);
    cn.kill('SIGTERM');
    gw.kill('SIGTERM');
    expect(await exitOf(cn)).toBe(0);
    expect(await exitOf(gw)).toBe(0);
  });

  it('usage errors exit 2 with a message; --help exits 0', async () => {
    const bad = startCli(['gateway', '--target', 'nohostport']);
    let err = '';
    bad.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    expect(await exitOf(bad)).toBe(2);
    expect(err).toMatch(/--target must be host:port/);
    const two = startCli(['gateway', '--target', '127.0.0.1:1', '--socks']);
    expect(await exitOf(two)).toBe(2);
    const help = startCli(['connect', '--help']);
    let out = '';
    help.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    expect(await exitOf(help)).toBe(0);
    expect(out).toMatch(/Exit codes:/);
  });
});
