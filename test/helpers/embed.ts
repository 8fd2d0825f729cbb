/**
 * Two registries joined by one tube pair for the embedding tests: the offering side with no listener
 * (connections come from `openConnection`), the answering side dialing a target or in handler mode
 * (`onConnection`). Non-trickle ICE over loopback.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type ConnectionHandler,
  type TubeRegistry as Registry,
  TubeRegistry,
  type TubeRegistryOptions,
  type TubeStream,
} from '../../src/index.ts';
import { LOOPBACK, waitFor } from './tubes.ts';

export interface EmbedPair {
  client: Registry;
  gateway: Registry;
  clientTube: string;
  gatewayTube: string;
  conversationId: string;
  close(): Promise<void>;
}

export async function embedPair(opts: {
  onConnection?: ConnectionHandler;
  gatewaySettings?: Record<string, unknown>;
  clientSettings?: Record<string, unknown>;
  gatewayRegistry?: TubeRegistryOptions;
  clientRegistry?: TubeRegistryOptions;
  conversationId?: string;
}): Promise<EmbedPair> {
  const conversationId = opts.conversationId ?? 'embed-1';
  const client = new TubeRegistry({ ...LOOPBACK, ...opts.clientRegistry });
  const gateway = new TubeRegistry({ ...LOOPBACK, ...opts.gatewayRegistry });
  const close = async (): Promise<void> => {
    await Promise.all([client.cleanupAll(), gateway.cleanupAll()]);
  };
  try {
    const offer = await client.createTube({
      conversationId,
      settings: opts.clientSettings ?? { conversationType: 'tunnel' },
      trickleIce: false,
    });
    const answer = await gateway.createTube({
      conversationId,
      settings: opts.gatewaySettings ?? { conversationType: 'tunnel' },
      trickleIce: false,
      offer: offer.offer as string,
      ...(opts.onConnection ? { onConnection: opts.onConnection } : {}),
    });
    await client.setRemoteDescription(offer.tubeId, answer.answer as string, true);
    await waitFor(
      () =>
        client.getTubeStatus(offer.tubeId) === 'ready' && gateway.getTubeStatus(answer.tubeId) === 'ready',
      15_000,
      'both tubes ready',
    );
    return { client, gateway, clientTube: offer.tubeId, gatewayTube: answer.tubeId, conversationId, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** An http.Agent whose connections are `openConnection` streams of the pair's client (pushed to `opened`). */
export function tubeAgent(p: EmbedPair, opened: TubeStream[] = []): http.Agent {
  const agent = new http.Agent({ keepAlive: false });
  (agent as unknown as { createConnection: unknown }).createConnection = (
    _opts: unknown,
    callback: (err: Error | null, stream?: Duplex) => void,
  ): undefined => {
    p.client.openConnection(p.conversationId).then(
      (stream) => {
        opened.push(stream);
        callback(null, stream);
      },
      (err: Error) => callback(err),
    );
    return undefined;
  };
  return agent;
}

const MiB = 1024 * 1024;
const block = randomBytes(MiB);

/** Writes `mib` MiB of random bytes with backpressure, then ends `w`; resolves with their sha256. */
export async function sendBlocks(
  w: NodeJS.WritableStream,
  mib: number,
  sent?: { bytes: number },
): Promise<string> {
  const h = createHash('sha256');
  for (let i = 0; i < mib; i++) {
    h.update(block);
    const more = w.write(block);
    if (sent) sent.bytes += block.length;
    if (!more) await once(w, 'drain');
  }
  w.end();
  return h.digest('hex');
}

/** Reads `r` to its end: the sha256 and length of what it gave. */
export async function hashAll(r: NodeJS.ReadableStream): Promise<{ sha: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of r) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { sha: h.digest('hex'), bytes };
}

/** Serves `registry.metrics()` over real HTTP on 127.0.0.1 (as a host would mount it). */
export async function metricsServer(registry: Registry): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.metricsContentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format (samples only; # HELP / # TYPE lines skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of one sample (labels must match exactly those given); undefined if absent. */
export function sample(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find(
    (s) =>
      s.name === name &&
      Object.keys(labels).length === Object.keys(s.labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape failed: ${res.status}`);
  expectPrometheusContentType(res.headers.get('content-type'));
  return parsePrometheus(await res.text());
}

function expectPrometheusContentType(type: string | null): void {
  if (!type?.startsWith('text/plain')) throw new Error(`unexpected content type ${type}`);
}
