/**
 * Embedding without TCP between the host and its tubes, with real consumers: a node:http server fed with
 * handler streams (`server.emit('connection', stream)`) answering a node:http client whose connections are
 * `openConnection` Duplexes (an http.Agent with createConnection). No loopback TCP between them; the only
 * sockets are the tubes' own UDP. Then the registries' metrics, scraped over real HTTP and checked against
 * the traffic sent, in-thread and with `workers: 2`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/channel/types.ts';
import type { TubeStream, TubesError } from '../../src/index.ts';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import {
  type EmbedPair,
  embedPair,
  hashAll,
  metricsServer,
  sample,
  scrape,
  sendBlocks,
  tubeAgent,
} from '../helpers/embed.ts';
import { echoServer, waitFor } from '../helpers/tubes.ts';

/**
 * What a reader that falls behind can hold per connection, from the design rather than from a run: the flow
 * high-water mark before FlowPause goes out, what the sender had already committed to its data channel when
 * the pause arrived (its send high-water mark), SCTP's receive window in flight (werift advertises 1 MiB), and
 * node:http's own buffer (64 KiB high-water mark + one frame). With large SCTP packets (path MTU discovery)
 * the window fills faster, so a loaded machine comes close to it.
 */
const READER_BOUND = DEFAULT_LIMITS.flowHighWater + DEFAULT_LIMITS.sendHighWater + 1024 * 1024 + 128 * 1024;

const MiB = 1024 * 1024;

let pair: EmbedPair | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await pair?.close();
  pair = undefined;
});

interface HttpOverTubes {
  tubes: EmbedPair;
  /** The http.Agent whose connections are the client's openConnection streams. */
  agent: http.Agent;
  /** The streams the gateway's handler got (the server's sockets), in order. */
  served: TubeStream[];
  /** The streams the agent opened (the client's sockets), in order. */
  opened: TubeStream[];
}

/** The node:http tests' set-up: a server fed with the gateway's handler streams, an agent opening the client's. */
async function httpOverTubes(handler: http.RequestListener): Promise<HttpOverTubes> {
  const server = http.createServer(handler);
  cleanups.push(() => void server.close());
  const served: TubeStream[] = [];
  const p = await embedPair({
    onConnection: (stream) => {
      served.push(stream);
      server.emit('connection', stream);
    },
  });
  pair = p;
  const opened: TubeStream[] = [];
  return { tubes: p, agent: tubeAgent(p, opened), served, opened };
}

describe('node:http over tube streams (no TCP between client and server)', () => {
  it('64 MiB each way: POST body and response body arrive with equal sha256', async () => {
    let lastSha = '';
    const { agent } = await httpOverTubes(async (req, res) => {
      const got = await hashAll(req);
      res.writeHead(200, { 'x-request-sha256': got.sha, 'x-request-bytes': String(got.bytes) });
      const sha = await sendBlocks(res, 64);
      res.addTrailers?.({});
      lastSha = sha;
    });
    const req = http.request({ agent, method: 'POST', host: 'embedded', path: '/echo-hash' });
    const response = once(req, 'response') as Promise<[http.IncomingMessage]>;
    const sentSha = await sendBlocks(req, 64);
    const [res] = await response;
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-bytes']).toBe(String(64 * MiB));
    expect(res.headers['x-request-sha256']).toBe(sentSha);
    const got = await hashAll(res);
    expect(got.bytes).toBe(64 * MiB);
    expect(got.sha).toBe(lastSha);
  }, 180_000);

  it('a slow consumer (1 MiB/s) keeps what both ends buffer bounded, through FlowPause', async () => {
    const { tubes, agent, served, opened } = await httpOverTubes((_req, res) => {
      res.writeHead(200);
      void sendBlocks(res, 6);
    });
    const [res] = (await once(http.get({ agent, host: 'embedded', path: '/slow' }), 'response')) as [
      http.IncomingMessage,
    ];
    res.pause();
    let received = 0;
    let maxClientBuffered = 0;
    let maxGatewayHeld = 0;
    const started = Date.now();
    const ended = once(res, 'end');
    // 1 MiB/s: ~100 KiB every 100 ms.
    while (!res.readableEnded) {
      await new Promise((r) => setTimeout(r, 100));
      let budget = MiB / 10;
      while (budget > 0) {
        const chunk = res.read(Math.min(budget, Math.max(1, res.readableLength))) as Buffer | null;
        if (!chunk) break;
        received += chunk.length;
        budget -= chunk.length;
      }
      const client = opened[0] as TubeStream;
      const gateway = served[0] as TubeStream;
      maxClientBuffered = Math.max(maxClientBuffered, client.readableLength + res.readableLength);
      maxGatewayHeld = Math.max(maxGatewayHeld, gateway.writableLength);
      if (received >= 6 * MiB) res.resume();
    }
    await ended;
    expect(received).toBe(6 * MiB);
    expect(Date.now() - started).toBeGreaterThan(4_000); // the consumer set the pace
    // Bounded by the flow-control and stream high-water marks, not by the 6 MiB the server wanted to send.
    expect(maxClientBuffered).toBeLessThan(READER_BOUND);
    expect(maxGatewayHeld).toBeLessThan(1 * MiB);
    const stats = tubes.client.getLiveStats(tubes.conversationId, tubes.clientTube) as Record<string, number>;
    expect(stats['flow_pauses_sent']).toBeGreaterThan(0);
  }, 60_000);

  it('a slow reader of the request (1 MiB/s) pauses the uploading client: both ends stay bounded', async () => {
    let maxGatewayBuffered = 0;
    let read = 0;
    const { tubes, agent, served, opened } = await httpOverTubes((req, res) => {
      req.pause();
      const tick = setInterval(() => {
        let budget = MiB / 10;
        while (budget > 0) {
          const chunk = req.read(Math.min(budget, Math.max(1, req.readableLength))) as Buffer | null;
          if (!chunk) break;
          read += chunk.length;
          budget -= chunk.length;
        }
        const gateway = served[0] as TubeStream;
        maxGatewayBuffered = Math.max(maxGatewayBuffered, gateway.readableLength + req.readableLength);
        if (req.readableEnded || read >= 5 * MiB) {
          clearInterval(tick);
          req.resume();
          res.end(String(read));
        }
      }, 100);
    });
    const req = http.request({ agent, method: 'POST', host: 'embedded', path: '/slow-upload' });
    const response = once(req, 'response') as Promise<[http.IncomingMessage]>;
    let maxClientHeld = 0;
    const sample = setInterval(() => {
      const client = opened[0];
      if (client) maxClientHeld = Math.max(maxClientHeld, client.writableLength);
    }, 50);
    const started = Date.now();
    await sendBlocks(req, 5);
    const [res] = await response;
    clearInterval(sample);
    const body = await hashAll(res);
    expect(body.bytes).toBeGreaterThan(0);
    expect(read).toBe(5 * MiB);
    expect(Date.now() - started).toBeGreaterThan(3_000); // the reader set the pace
    expect(maxGatewayBuffered).toBeLessThan(READER_BOUND);
    expect(maxClientHeld).toBeLessThan(1 * MiB);
    const stats = tubes.gateway.getLiveStats(tubes.conversationId, tubes.gatewayTube) as Record<
      string,
      number
    >;
    expect(stats['flow_pauses_sent']).toBeGreaterThan(0);
  }, 60_000);

  it('openConnection is refused with the handler’s reason; await using closes the stream', async () => {
    pair = await embedPair({
      onConnection: (stream) => {
        if (stream.connNo === 1)
          throw Object.assign(new Error('busy'), { closeReason: CloseConnectionReason.ServerRefuse });
        stream.pipe(stream);
      },
    });
    const err = (await pair.client
      .openConnection(pair.conversationId)
      .catch((e: unknown) => e)) as TubesError;
    expect(err.code).toBe('TUBES_ERR_CONNECTION_REFUSED');
    expect(err.closeReason).toBe(CloseConnectionReason.ServerRefuse);
    let kept: TubeStream | undefined;
    {
      await using stream = await pair.client.openConnection(pair.conversationId);
      kept = stream;
      stream.write('ping');
      const [chunk] = (await once(stream, 'data')) as [Buffer];
      expect(chunk.toString()).toBe('ping');
    }
    expect(kept?.destroyed).toBe(true);
  }, 30_000);
});

async function echoBytes(p: EmbedPair, bytes: number): Promise<void> {
  const stream = await p.client.openConnection(p.conversationId);
  const data = randomBytes(bytes);
  const got = hashAll(stream);
  stream.end(data);
  const r = await got;
  expect(r.bytes).toBe(bytes);
  expect(r.sha).toBe(createHash('sha256').update(data).digest('hex'));
  await new Promise<void>((resolve) =>
    stream.destroyed ? resolve() : stream.once('close', () => resolve()),
  );
}

describe('metrics scraped over HTTP', () => {
  const N = 3 * MiB + 17;

  it('in-thread: counters and gauges match the traffic sent', async () => {
    pair = await embedPair({
      onConnection: (stream) => {
        stream.pipe(stream);
      },
    });
    await echoBytes(pair, N);
    await echoBytes(pair, 1000);
    const gw = await metricsServer(pair.gateway);
    const cl = await metricsServer(pair.client);
    cleanups.push(gw.close, cl.close);
    await waitFor(() => pair?.gateway.getLiveStats(pair.conversationId)?.['active_connections'] === 0);
    const g = await scrape(gw.url);
    const c = await scrape(cl.url);
    expect(sample(g, 'tubes_connection_bytes_total', { direction: 'from_peer' })).toBe(N + 1000);
    expect(sample(g, 'tubes_connection_bytes_total', { direction: 'to_peer' })).toBe(N + 1000);
    expect(sample(c, 'tubes_connection_bytes_total', { direction: 'to_peer' })).toBe(N + 1000);
    expect(sample(c, 'tubes_connection_bytes_total', { direction: 'from_peer' })).toBe(N + 1000);
    expect(sample(g, 'tubes_connections_opened_total')).toBe(2);
    expect(sample(c, 'tubes_connections_opened_total')).toBe(2);
    expect(sample(g, 'tubes_connections_closed_total', { reason: '0', reason_name: 'Normal' })).toBe(2);
    expect(sample(g, 'tubes_connections_open')).toBe(0);
    expect(sample(g, 'tubes_tubes', { status: 'ready' })).toBe(1);
    expect(sample(g, 'tubes_tubes', { status: 'closed' })).toBe(0);
    expect(sample(g, 'tubes_create_to_ready_seconds_count')).toBe(1);
    expect(sample(g, 'tubes_admission_rejections_total')).toBe(0);
    expect(sample(g, 'tubes_ice_restarts_total')).toBe(0);
    // Frames: at least one message per 64 KiB of payload each way.
    expect(sample(g, 'tubes_channel_messages_total', { direction: 'received' })).toBeGreaterThanOrEqual(
      Math.ceil(N / 65536),
    );
    expect(sample(g, 'tubes_channel_bytes_total', { direction: 'received' })).toBeGreaterThan(N);
    const engines = g.filter((s) => s.name === 'tubes_hotpath_engine' && s.value === 1);
    expect(engines.map((s) => s.labels['engine'])).toHaveLength(1);
    expect(sample(g, 'tubes_flow_pauses_total', { direction: 'sent' })).toBeGreaterThanOrEqual(0);
    // A second scrape reads the same counters (nothing is reset by scraping).
    const again = await scrape(gw.url);
    expect(sample(again, 'tubes_connection_bytes_total', { direction: 'from_peer' })).toBe(N + 1000);
    expect(sample(again, 'tubes_create_to_ready_seconds_count')).toBe(1);
    // The registry is its own prom-client Registry.
    expect(pair.gateway.metricsRegistry()).not.toBe(pair.client.metricsRegistry());
    // ICE restarts are counted where they start.
    await pair.client.restartIce(pair.clientTube);
    expect(sample(await scrape(cl.url), 'tubes_ice_restarts_total')).toBe(1);
  }, 60_000);

  it('admission rejections are counted', async () => {
    const { TubeRegistry } = await import('../../src/index.ts');
    const registry = new TubeRegistry({ maxConcurrentCreates: 0 });
    const server = await metricsServer(registry);
    cleanups.push(server.close);
    for (let i = 0; i < 3; i++) {
      await expect(
        registry.createTube({
          conversationId: `c${i}`,
          settings: { conversationType: 'tunnel' },
          trickleIce: true,
        }),
      ).rejects.toThrow(/overloaded/i);
    }
    const m = await scrape(server.url);
    expect(sample(m, 'tubes_admission_rejections_total')).toBe(3);
    expect(sample(m, 'tubes_tubes', { status: 'ready' })).toBe(0);
  });

  it('workers: 2 — the workers push their counters and the registry adds them up', async () => {
    const echo = await echoServer();
    cleanups.push(echo.close);
    pair = await embedPair({
      gatewayRegistry: { workers: 2 },
      gatewaySettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    await echoBytes(pair, N);
    const gw = await metricsServer(pair.gateway);
    cleanups.push(gw.close);
    let g = await scrape(gw.url);
    const until = Date.now() + 5_000;
    while (
      sample(g, 'tubes_connections_closed_total', { reason: '9', reason_name: 'ConnectionLost' }) !== 1
    ) {
      if (Date.now() > until) throw new Error(`worker counters never arrived:\n${JSON.stringify(g)}`);
      await new Promise((r) => setTimeout(r, 50));
      g = await scrape(gw.url);
    }
    expect(sample(g, 'tubes_connection_bytes_total', { direction: 'from_peer' })).toBe(N);
    expect(sample(g, 'tubes_connection_bytes_total', { direction: 'to_peer' })).toBe(N);
    expect(sample(g, 'tubes_connections_opened_total')).toBe(1);
    expect(sample(g, 'tubes_tubes', { status: 'ready' })).toBe(1);
    expect(sample(g, 'tubes_create_to_ready_seconds_count')).toBe(1);
    // Engines: one entry per worker that pushed (the tube's worker at least).
    const threads = g.filter((s) => s.name === 'tubes_hotpath_engine').reduce((n, s) => n + s.value, 0);
    expect(threads).toBeGreaterThanOrEqual(1);
    // openConnection reaches the worker's channel, which serves the offering side only (as in-thread).
    await expect(pair.gateway.openConnection(pair.conversationId)).rejects.toThrow(/answering side/);
  }, 60_000);
});
