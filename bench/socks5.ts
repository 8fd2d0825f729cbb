/**
 * SOCKS5 benchmark (npm run bench:socks5): curl downloading a 50 MB file through (a) a tube in socks5 mode
 * (gateway in a child process), (b) danted, (c) microsocks — same run, interleaved, median of N runs; and
 * connection setup latency (SOCKS handshake to first byte of a small response, curl's time_starttransfer).
 *
 *   node bench/socks5.ts [--runs 5] [--setup 20] [--json]
 *
 * Needs curl, danted and microsocks (bash scripts/peers/install-apt.sh); missing proxies are skipped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../src/cli/remote.ts';
import { median } from '../src/cli/workload.ts';
import { TubeRegistry } from '../src/index.ts';
import { runCommand, startHttpServer } from '../test/helpers/peers.ts';
import { machine } from './lib.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    setup: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const SETUP = Number(values.setup);
const SIZE = 50 * 1000 * 1000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Async: the HTTP server and the tube's server side live in this process and must keep running. */
async function curl(
  proxy: string,
  url: string,
): Promise<{ seconds: number; bytes: number; firstByte: number }> {
  const r = await runCommand(
    'curl',
    [
      '-sS',
      '--max-time',
      '300',
      '--socks5-hostname',
      proxy,
      '-o',
      '/dev/null',
      '-w',
      '%{time_total} %{size_download} %{time_starttransfer}',
      url,
    ],
    { timeout: 310_000 },
  );
  if (r.code !== 0) throw new Error(`curl via ${proxy} failed (${r.code}): ${r.stderr.toString()}`);
  const [total, size, first] = r.stdout.toString().trim().split(' ').map(Number);
  return { seconds: total as number, bytes: size as number, firstByte: first as number };
}

const web = await startHttpServer({ bigFileBytes: SIZE });
const state = mkdtempSync(path.join(os.tmpdir(), 'tubes-socks-bench-'));
const proxies: { name: string; addr: string }[] = [];
const notes: string[] = [];

const server = new TubeRegistry(LOOPBACK);
const gateway = new RemoteRegistry(LOOPBACK, { execArgv: ['--max-semi-space-size=2'] });
try {
  const tubes = await connectTubes({
    server,
    client: gateway,
    serverSettings: { conversationType: 'tunnel', socks_mode: true, local_listen_addr: '127.0.0.1:0' },
    clientSettings: { conversationType: 'tunnel', allowed_hosts: '127.0.0.1' },
  });
  proxies.push({ name: 'tube (socks5 mode, 2 processes)', addr: tubes.listenAddr as string });
  // The daemons inherit stdio: keep it away from pipes spawnSync would wait on.
  spawnSync(
    'bash',
    [
      '-c',
      `bash "$0" "$1" danted microsocks > "$1/up.log" 2>&1`,
      path.join(ROOT, 'scripts/peers/peers-up.sh'),
      state,
    ],
    {
      stdio: 'ignore',
    },
  );
  try {
    const ports = JSON.parse(readFileSync(path.join(state, 'ports.json'), 'utf8')) as Record<string, number>;
    for (const [key, name] of [
      ['dante', 'danted'],
      ['microsocks', 'microsocks'],
    ] as const) {
      const port = Object.entries(ports).find(([k]) => k.toLowerCase().includes(key))?.[1];
      if (port) proxies.push({ name, addr: `127.0.0.1:${port}` });
      else notes.push(`${name} not running: skipped`);
    }
  } catch {
    notes.push('danted/microsocks not started (install them with scripts/peers/install-apt.sh)');
  }

  const rows = proxies.map((p) => ({ ...p, mbps: [] as number[], setupMs: [] as number[] }));
  for (const row of rows) await curl(row.addr, web.url('/big.bin')); // warm-up
  for (let run = 0; run < RUNS; run++) {
    for (const row of rows) {
      const r = await curl(row.addr, web.url('/big.bin'));
      if (r.bytes !== SIZE) throw new Error(`${row.name}: ${r.bytes} bytes`);
      row.mbps.push(SIZE / 1e6 / r.seconds);
    }
  }
  for (let i = 0; i < SETUP; i++) {
    for (const row of rows) row.setupMs.push((await curl(row.addr, web.url('/hello.txt'))).firstByte * 1000);
  }
  const result = {
    machine: machine(['werift']),
    runs: RUNS,
    bytes: SIZE,
    rows: rows.map((r) => ({
      proxy: r.name,
      mbps_median: Number(median(r.mbps).toFixed(1)),
      mbps_min: Number(Math.min(...r.mbps).toFixed(1)),
      mbps_max: Number(Math.max(...r.mbps).toFixed(1)),
      setup_ms_p50: Number(median(r.setupMs).toFixed(2)),
      setup_ms_max: Number(Math.max(...r.setupMs).toFixed(2)),
    })),
    notes,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    console.log(
      `${result.machine.cpu}, ${result.machine.cores} cores, Node ${result.machine.node}, ${result.machine.date}`,
    );
    console.log(
      `curl --socks5-hostname, ${SIZE / 1e6} MB download, median of ${RUNS} runs; setup = handshake → first byte, ${SETUP} requests`,
    );
    console.log('| proxy | MB/s median (min–max) | setup p50 (max) |');
    console.log('|---|---|---|');
    for (const r of result.rows) {
      console.log(
        `| ${r.proxy} | ${r.mbps_median} (${r.mbps_min}–${r.mbps_max}) | ${r.setup_ms_p50} ms (${r.setup_ms_max}) |`,
      );
    }
    for (const n of notes) console.log(`note: ${n}`);
  }
} finally {
  spawnSync('bash', [path.join(ROOT, 'scripts/peers/peers-down.sh'), state], { stdio: 'ignore' });
  rmSync(state, { recursive: true, force: true });
  await server.cleanupAll();
  await gateway.stop();
  await web.close();
}
