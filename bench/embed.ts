/**
 * Embedding benchmark (npm run bench:embed): bytes from the offering side to the answering side of a tube,
 * Duplex to Duplex (`openConnection` → `onConnection`, no TCP anywhere but the tube's own UDP) against the
 * TCP path (a TCP client → the tube's local listener → the gateway dials a TCP sink), in the same process
 * and the same run. Throughput (MB/s, MB = 10^6 bytes) and process CPU per MB (both ends of the tube run in
 * this process, so the CPU figure covers both sides plus the TCP endpoints where there are some).
 *
 * Worker mode rows (`workers: 1` on both registries, one tube pair): the same Duplex path with the tubes in
 * worker threads (the host's streams on this thread, bridged to the worker), against the TCP path into the
 * same worker tube (a TCP client → that tube's listener, in the worker); the gateway's handler receives both.
 * CPU covers every thread of the process.
 *
 *   node bench/embed.ts [--runs 3] [--bytes 32M] [--rows all|thread|workers] [--json]
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { machine } from '../src/bench/lib.ts';
import { LOOPBACK } from '../src/cli/remote.ts';
import { median, parseBytes } from '../src/cli/workload.ts';
import { type ConnectionHandler, TubeRegistry } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    bytes: { type: 'string', default: '32M' },
    json: { type: 'boolean', default: false },
    rows: { type: 'string', default: 'all' },
  },
});
const ROWS = values.rows as string;
if (!['all', 'thread', 'workers'].includes(ROWS))
  throw new Error(`--rows: all, thread or workers, got ${ROWS}`);
const RUNS = Number(values.runs);
const BYTES = parseBytes(values.bytes as string);
const CHUNK = randomBytes(64 * 1024);

interface Pair {
  client: TubeRegistry;
  gateway: TubeRegistry;
  conversationId: string;
  listenAddr: string | undefined;
  close(): Promise<void>;
}

async function pair(
  conversationId: string,
  clientSettings: Record<string, unknown>,
  gatewaySettings: Record<string, unknown>,
  onConnection?: ConnectionHandler,
  workers = 0,
): Promise<Pair> {
  const client = new TubeRegistry({ ...LOOPBACK, workers });
  const gateway = new TubeRegistry({ ...LOOPBACK, workers });
  const offer = await client.createTube({ conversationId, settings: clientSettings, trickleIce: false });
  const answer = await gateway.createTube({
    conversationId,
    settings: gatewaySettings,
    trickleIce: false,
    offer: offer.offer as string,
    ...(onConnection ? { onConnection } : {}),
  });
  await client.setRemoteDescription(offer.tubeId, answer.answer as string, true);
  const until = Date.now() + 20_000;
  while (client.getTubeStatus(offer.tubeId) !== 'ready' || gateway.getTubeStatus(answer.tubeId) !== 'ready') {
    if (Date.now() > until) throw new Error('tubes not ready');
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    client,
    gateway,
    conversationId,
    listenAddr: offer.actualLocalListenAddr,
    close: async () => {
      await Promise.all([client.cleanupAll(), gateway.cleanupAll()]);
    },
  };
}

/** Writes `bytes` with backpressure, then ends. */
async function pump(w: NodeJS.WritableStream, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    if (!w.write(sent + CHUNK.length <= bytes ? CHUNK : CHUNK.subarray(0, bytes - sent)))
      await once(w, 'drain');
  }
  w.end();
}

interface Row {
  scenario: string;
  mbPerSec: number;
  cpuMsPerMb: number;
  runs: number[];
}

/** Counts what a sink received; resolves `done` when `bytes` arrived. */
function counter(bytes: number): { add(n: number): void; done: Promise<void>; reset(): void } {
  let got = 0;
  let resolve: () => void = () => {};
  let done = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    add(n) {
      got += n;
      if (got >= bytes) resolve();
    },
    get done() {
      return done;
    },
    reset() {
      got = 0;
      done = new Promise<void>((r) => {
        resolve = r;
      });
    },
  };
}

/**
 * Runs each scenario once to warm up, then RUNS rounds in which every scenario runs once, in turn (the rows of
 * a table compare under the same conditions, not one after the other while the process warms up).
 */
async function measure(scenarios: [name: string, once1: () => Promise<void>][]): Promise<Row[]> {
  for (const [, once1] of scenarios) await once1(); // warm-up
  const rates = scenarios.map(() => [] as number[]);
  const cpu = scenarios.map(() => [] as number[]);
  const mb = BYTES / 1e6;
  for (let i = 0; i < RUNS; i++) {
    for (const [k, [, once1]] of scenarios.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await once1();
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      rates[k]?.push(mb / (ms / 1000));
      cpu[k]?.push((c.user + c.system) / 1000 / mb);
    }
  }
  return scenarios.map(([name], k) => ({
    scenario: name,
    mbPerSec: median(rates[k] ?? []),
    cpuMsPerMb: median(cpu[k] ?? []),
    runs: rates[k] ?? [],
  }));
}

/** Duplex to Duplex and the TCP path, each through its own in-thread tube pair. */
async function threadRows(): Promise<Row[]> {
  // Duplex to Duplex.
  const duplexSink = counter(BYTES);
  const embedded = await pair(
    'bench-duplex',
    { conversationType: 'tunnel' },
    { conversationType: 'tunnel' },
    (s) => {
      s.on('data', (c: Buffer) => duplexSink.add(c.length));
    },
  );
  // TCP: client socket → listener → tube → gateway dial → TCP sink.
  const tcpSink = counter(BYTES);
  const sink = net.createServer((socket) => socket.on('data', (c: Buffer) => tcpSink.add(c.length)));
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkPort = (sink.address() as net.AddressInfo).port;
  const tcp = await pair(
    'bench-tcp',
    { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
    { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: sinkPort },
  );
  try {
    return await measure([
      ['duplex → duplex', () => duplexOnce(embedded, duplexSink)],
      ['tcp → tube → tcp', () => tcpOnce(tcp.listenAddr as string, tcpSink)],
    ]);
  } finally {
    await embedded.close();
    await tcp.close();
    sink.close();
  }
}

/** Worker mode: one tube pair in workers; the Duplex path and the TCP path into the same worker tube. */
async function workerRows(): Promise<Row[]> {
  const sink = counter(BYTES);
  const viaWorker = await pair(
    'bench-worker',
    { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
    { conversationType: 'tunnel' },
    (s) => {
      s.on('data', (c: Buffer) => sink.add(c.length));
    },
    1,
  );
  try {
    return await measure([
      ['workers: duplex → worker tube → duplex', () => duplexOnce(viaWorker, sink)],
      ['workers: tcp → same worker tube → duplex', () => tcpOnce(viaWorker.listenAddr as string, sink)],
    ]);
  } finally {
    await viaWorker.close();
  }
}

/** One transfer from an openConnection stream. */
async function duplexOnce(p: Pair, sink: ReturnType<typeof counter>): Promise<void> {
  sink.reset();
  const stream = await p.client.openConnection(p.conversationId);
  await pump(stream, BYTES);
  await sink.done;
  stream.destroy();
}

/** One transfer from a TCP client through the tube's listener at `listenAddr`. */
async function tcpOnce(listenAddr: string, sink: ReturnType<typeof counter>): Promise<void> {
  sink.reset();
  const [host, port] = listenAddr.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  await once(socket, 'connect');
  await pump(socket, BYTES);
  await sink.done;
  socket.destroy();
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  if (ROWS !== 'workers') rows.push(...(await threadRows()));
  if (ROWS !== 'thread') rows.push(...(await workerRows()));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ machine: machine(), bytes: BYTES, runs: RUNS, rows })}\n`);
    return;
  }
  console.log(`embed benchmark: ${BYTES} bytes one way, median of ${RUNS} runs (after one warm-up)`);
  console.log('| path | MB/s | CPU ms per MB (both ends) | runs (MB/s) |');
  console.log('|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.scenario} | ${r.mbPerSec.toFixed(1)} | ${r.cpuMsPerMb.toFixed(1)} | ${r.runs.map((x) => x.toFixed(1)).join(', ')} |`,
    );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
