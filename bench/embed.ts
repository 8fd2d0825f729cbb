/**
 * Embedding benchmark (npm run bench:embed): bytes from the offering side to the answering side of a tube,
 * Duplex to Duplex (`openConnection` → `onConnection`, no TCP anywhere but the tube's own UDP) against the
 * TCP path (a TCP client → the tube's local listener → the gateway dials a TCP sink), in the same process
 * and the same run. Throughput (MB/s, MB = 10^6 bytes) and process CPU per MB (both ends of the tube run in
 * this process, so the CPU figure covers both sides plus the TCP endpoints where there are some).
 *
 *   node bench/embed.ts [--runs 3] [--bytes 32M] [--json]
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
  },
});
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
): Promise<Pair> {
  const client = new TubeRegistry(LOOPBACK);
  const gateway = new TubeRegistry(LOOPBACK);
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

async function measure(name: string, once1: () => Promise<void>): Promise<Row> {
  await once1(); // warm-up
  const rates: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await once1();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const mb = BYTES / 1e6;
    rates.push(mb / (ms / 1000));
    cpu.push((c.user + c.system) / 1000 / mb);
  }
  return { scenario: name, mbPerSec: median(rates), cpuMsPerMb: median(cpu), runs: rates };
}

async function main(): Promise<void> {
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
  const [host, port] = (tcp.listenAddr as string).split(':') as [string, string];
  const rows: Row[] = [];
  try {
    rows.push(
      await measure('duplex → duplex', async () => {
        duplexSink.reset();
        const stream = await embedded.client.openConnection(embedded.conversationId);
        await pump(stream, BYTES);
        await duplexSink.done;
        stream.destroy();
      }),
    );
    rows.push(
      await measure('tcp → tube → tcp', async () => {
        tcpSink.reset();
        const socket = net.connect({ host, port: Number(port) });
        await once(socket, 'connect');
        await pump(socket, BYTES);
        await tcpSink.done;
        socket.destroy();
      }),
    );
  } finally {
    await embedded.close();
    await tcp.close();
    sink.close();
  }
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
