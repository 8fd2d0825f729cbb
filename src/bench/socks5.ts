/**
 * `tubes bench socks5` (npm run bench:socks5): curl downloading a 50 MB file through (a) a tube in socks5
 * mode (gateway in a child process), (b) danted, (c) microsocks — same run, interleaved, median of N runs;
 * and connection setup latency (SOCKS handshake to first byte of a small response, curl's
 * time_starttransfer). curl, danted and microsocks are looked up on PATH (and the sbin directories): a
 * missing proxy is skipped with a note; without curl nothing can be measured and every row is skipped.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../cli/cli-common.ts';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../cli/remote.ts';
import { median } from '../cli/workload.ts';
import { TubeRegistry } from '../index.ts';
import { barChart, type Chart } from './charts.ts';
import { machine } from './lib.ts';
import type { BenchContext, BenchDef, BenchOutput, BenchValues } from './types.ts';

const SIZE = 50 * 1000 * 1000;
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Absolute path of a program on PATH or in the sbin directories, else undefined. */
function which(cmd: string): string | undefined {
  for (const dir of [...(process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean), ...SBIN]) {
    const full = path.join(dir, cmd);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a program (no shell), collecting stdout; resolves with its exit code. */
function runCommand(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** HTTP server on 127.0.0.1 serving /hello.txt and a random /big.bin of SIZE bytes. */
async function startHttpServer(): Promise<{ url(p: string): string; close(): Promise<void> }> {
  const big = randomBytes(SIZE);
  const hello = Buffer.from('hello through the tunnel\n');
  const server = http.createServer((req, res) => {
    const body = req.url === '/big.bin' ? big : req.url === '/hello.txt' ? hello : undefined;
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const DANTE_CONF = (port: number): string => `logoutput: stderr
internal: 127.0.0.1 port = ${port}
external: lo
socksmethod: none
clientmethod: none
${process.getuid?.() === 0 ? 'user.privileged: root\nuser.unprivileged: nobody\n' : ''}client pass {
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: error
}
socks pass {
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: bind connect udpassociate
  log: error
}
socks block {
  from: 0.0.0.0/0 to: 0.0.0.0/0
  log: connect error
}
`;

interface Daemon {
  name: string;
  addr: string;
  stop(): void;
}

/** Starts danted or microsocks on a free loopback port; undefined (with a note) when absent or not up. */
async function startProxy(
  name: 'danted' | 'microsocks',
  dir: string,
  notes: string[],
): Promise<Daemon | undefined> {
  const bin = which(name);
  if (!bin) {
    notes.push(
      `${name} not installed: its row is skipped (Debian: apt-get install ${name === 'danted' ? 'dante-server' : 'microsocks'})`,
    );
    return undefined;
  }
  const port = await freePort();
  let args: string[];
  if (name === 'danted') {
    const conf = path.join(dir, 'danted.conf');
    writeFileSync(conf, DANTE_CONF(port));
    args = ['-f', conf, '-N', '1'];
  } else args = ['-i', '127.0.0.1', '-p', String(port)];
  const child = spawn(bin, args, { stdio: 'ignore' });
  child.on('error', () => {});
  const stop = (): void => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  if (!(await waitForPort(port, 10_000))) {
    stop();
    notes.push(`${name} did not listen on 127.0.0.1:${port} within 10 s: its row is skipped`);
    return undefined;
  }
  return { name, addr: `127.0.0.1:${port}`, stop };
}

async function curl(
  curlBin: string,
  proxy: string,
  url: string,
): Promise<{ seconds: number; bytes: number; firstByte: number }> {
  const r = await runCommand(
    curlBin,
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
    310_000,
  );
  if (r.code !== 0) throw new Error(`curl via ${proxy} failed (${r.code}): ${r.stderr}`);
  const [total, size, first] = r.stdout.trim().split(' ').map(Number);
  return { seconds: total as number, bytes: size as number, firstByte: first as number };
}

export interface Socks5ChartRow {
  proxy: string;
  mbps_median: number;
  mbps_min?: number;
  mbps_max?: number;
  setup_ms_p50: number;
}

export function socks5Charts(rows: Socks5ChartRow[], subtitle: string): Chart[] {
  if (rows.length === 0) return [];
  return [
    barChart({
      id: 'socks5-throughput',
      title: 'SOCKS5, curl 50 MB download: MB/s per proxy (median, min–max; log scale; higher is better)',
      subtitle,
      yLabel: 'MB/s',
      yLog: true,
      groups: rows.map((r) => ({
        label: r.proxy,
        bars: [
          {
            series: 'MB/s',
            value: r.mbps_median,
            ...(r.mbps_min !== undefined && r.mbps_max !== undefined
              ? { low: r.mbps_min, high: r.mbps_max }
              : {}),
          },
        ],
      })),
    }),
    barChart({
      id: 'socks5-setup',
      title: 'SOCKS5 connection setup: handshake to first byte, p50 in ms (lower is better)',
      subtitle,
      yLabel: 'ms',
      groups: rows.map((r) => ({ label: r.proxy, bars: [{ series: 'setup p50', value: r.setup_ms_p50 }] })),
    }),
  ];
}

async function run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput> {
  const runs = Number(values['runs'] ?? '5');
  const setup = Number(values['setup'] ?? '20');
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  if (!Number.isInteger(setup) || setup < 1) throw new UsageError('--setup must be a positive integer');
  const notes = ctx.notes;
  const m = machine(['werift']);
  const curlBin = which('curl');
  const result = {
    machine: m,
    runs,
    bytes: SIZE,
    rows: [] as {
      proxy: string;
      mbps_median: number;
      mbps_min: number;
      mbps_max: number;
      setup_ms_p50: number;
      setup_ms_max: number;
    }[],
  };
  const header = [
    `${m['cpu']}, ${m['cores']} cores, Node ${m['node']}, ${m['date']}`,
    `curl --socks5-hostname, ${SIZE / 1e6} MB download, median of ${runs} runs; setup = handshake → first byte, ${setup} requests`,
  ];
  if (!curlBin) {
    notes.push('curl not installed: every row is skipped (Debian: apt-get install curl)');
    return { machine: m, data: result, text: header.join('\n'), charts: [] };
  }
  ctx.progress.update('starting the HTTP server, the tube pair and the reference proxies');
  const web = await startHttpServer();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tubes-socks-bench-'));
  const server = new TubeRegistry(LOOPBACK);
  const gateway = new RemoteRegistry(LOOPBACK, { execArgv: ['--max-semi-space-size=2'] });
  const daemons: Daemon[] = [];
  try {
    const tubes = await connectTubes({
      server,
      client: gateway,
      serverSettings: { conversationType: 'tunnel', socks_mode: true, local_listen_addr: '127.0.0.1:0' },
      clientSettings: { conversationType: 'tunnel', allowed_hosts: '127.0.0.1' },
    });
    const proxies = [{ name: 'tube (socks5 mode, 2 processes)', addr: tubes.listenAddr as string }];
    for (const name of ['danted', 'microsocks'] as const) {
      const d = await startProxy(name, dir, notes);
      if (d) {
        daemons.push(d);
        proxies.push({ name: d.name, addr: d.addr });
      }
    }
    const rows = proxies.map((p) => ({ ...p, mbps: [] as number[], setupMs: [] as number[] }));
    for (const row of rows) {
      ctx.progress.update(`warm-up download via ${row.name}`);
      await curl(curlBin, row.addr, web.url('/big.bin'));
    }
    for (let run = 0; run < runs; run++) {
      for (const row of rows) {
        ctx.progress.update(`run ${run + 1}/${runs}: 50 MB via ${row.name}`);
        const r = await curl(curlBin, row.addr, web.url('/big.bin'));
        if (r.bytes !== SIZE) throw new Error(`${row.name}: ${r.bytes} bytes`);
        row.mbps.push(SIZE / 1e6 / r.seconds);
      }
      ctx.progress.log(
        `run ${run + 1}: ${rows.map((r) => `${r.name} ${(r.mbps[run] ?? Number.NaN).toFixed(1)} MB/s`).join(', ')}`,
      );
    }
    for (let i = 0; i < setup; i++) {
      ctx.progress.update(`setup latency ${i + 1}/${setup}`);
      for (const row of rows) {
        row.setupMs.push((await curl(curlBin, row.addr, web.url('/hello.txt'))).firstByte * 1000);
      }
    }
    result.rows = rows.map((r) => ({
      proxy: r.name,
      mbps_median: Number(median(r.mbps).toFixed(1)),
      mbps_min: Number(Math.min(...r.mbps).toFixed(1)),
      mbps_max: Number(Math.max(...r.mbps).toFixed(1)),
      setup_ms_p50: Number(median(r.setupMs).toFixed(2)),
      setup_ms_max: Number(Math.max(...r.setupMs).toFixed(2)),
    }));
  } finally {
    for (const d of daemons) d.stop();
    rmSync(dir, { recursive: true, force: true });
    await server.cleanupAll();
    await gateway.stop();
    await web.close();
  }
  const text = [
    ...header,
    '',
    '| proxy | MB/s median (min–max) | setup p50 (max) |',
    '|---|---|---|',
    ...result.rows.map(
      (r) =>
        `| ${r.proxy} | ${r.mbps_median} (${r.mbps_min}–${r.mbps_max}) | ${r.setup_ms_p50} ms (${r.setup_ms_max}) |`,
    ),
  ].join('\n');
  const charts = socks5Charts(
    result.rows,
    `this run: ${String(m['cpu'])}, ${String(m['cores'])} cores, Node ${String(m['node'])}, ${runs} run(s), ${String(m['date']).slice(0, 16)} UTC`,
  );
  return { machine: m, data: result, text, charts };
}

export const bench: BenchDef = {
  name: 'socks5',
  summary: 'curl through a tube in SOCKS5 mode vs danted vs microsocks (skipped when not installed)',
  help: `curl --socks5-hostname downloading a 50 MB file from a local HTTP server through a tube pair in
SOCKS5 mode (gateway tube in a child process), danted and microsocks, interleaved, median of the runs; and
setup latency (handshake to the first byte of a 25-byte response). Needs curl; danted and microsocks are
optional (skipped with a note when not installed).

Options:
  --runs <n>    Download runs per proxy (default 5; one warm-up download each comes first)
  --setup <n>   Setup-latency requests per proxy (default 20)
`,
  options: { runs: { type: 'string' }, setup: { type: 'string' } },
  run,
};
