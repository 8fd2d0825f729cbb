/**
 * Throughput through a TURN relay against the direct path, in the same run: three network namespaces
 * (test/helpers/netns.ts), the two tubes in two processes on hosts 0 and 1 (RemoteRegistry children), a real
 * coturn on host 2, an echo target on host 1. Each scenario connects a fresh tube pair and echoes `--mib`
 * MiB through its TCP tunnel from host 0 (sha256 checked), `--rounds` times; the median is reported.
 * Scenarios: direct (host candidates), turn_only over TURN/UDP, TURN/TCP, TURN/TLS.
 *
 *   npm run bench:turn [-- --mib 32 --rounds 3 --json]
 *
 * Needs root, iproute2, nftables, coturn and openssl (prints why not and exits 0 otherwise).
 */
import { parseArgs } from 'node:util';
import { machine } from '../src/bench/lib.ts';
import { connectTubes, RemoteRegistry } from '../src/cli/remote.ts';
import type { TubeRegistryOptions } from '../src/index.ts';
import { type Coturn, netnsEcho, netnsTransfer, startCoturn } from '../test/helpers/coturn.ts';
import { createNetwork, type Network, netnsUnavailable } from '../test/helpers/netns.ts';
import { which } from '../test/helpers/peers.ts';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    /** Only the scenarios whose name contains this (e.g. `direct`, `TURN/UDP`). */
    only: { type: 'string' },
  },
});
const MiB = 1024 * 1024;
const bytes = Number(values.mib) * MiB;
const rounds = Number(values.rounds);

const missing =
  netnsUnavailable() ??
  (['turnserver', 'openssl', 'ss'].find((t) => !which(t))
    ? 'missing turnserver/openssl/ss (Debian: coturn, openssl, iproute2)'
    : undefined);
if (missing) {
  console.error(`bench:turn skipped: ${missing}`);
  process.exit(0);
}

interface Scenario {
  name: string;
  settings(turn: Coturn): Record<string, unknown>;
  options(turn: Coturn): TubeRegistryOptions;
  expect: string;
}

const creds = { turn_username: 'bench', turn_password: 'benchpass' };
const SCENARIOS: Scenario[] = [
  { name: 'direct (host candidates)', settings: () => ({}), options: () => ({}), expect: 'host' },
  {
    name: 'TURN/UDP (turn_only)',
    settings: (t) => ({ turn_url: t.url('udp'), ...creds, turn_only: true }),
    options: () => ({}),
    expect: 'relay/udp',
  },
  {
    name: 'TURN/TCP (turn_only)',
    settings: (t) => ({ turn_url: t.url('tcp'), ...creds, turn_only: true }),
    options: () => ({}),
    expect: 'relay/tcp',
  },
  {
    name: 'TURN/TLS (turn_only)',
    settings: (t) => ({ turn_url: t.url('tls'), ...creds, turn_only: true }),
    options: (t) => ({ turnTls: { ca: t.certPem } }),
    expect: 'relay/tls',
  },
];

interface Row {
  scenario: string;
  pair: string;
  readyMs: number;
  mibPerSecBothWays: number[];
  median: number;
  failures: string[];
}

async function runRound(
  net: Network,
  turn: Coturn,
  echoPort: number,
  s: Scenario,
): Promise<{ pair: string; readyMs: number; rate: number }> {
  // A generous TURN timeout: this measures throughput, not how a starved machine answers (the tests do that).
  const opts: TubeRegistryOptions = { ipv6: false, turnTimeoutMs: 20_000, ...s.options(turn) };
  const a = new RemoteRegistry(opts, { wrap: net.prefix(net.hosts[0]!) });
  const b = new RemoteRegistry(opts, { wrap: net.prefix(net.hosts[1]!) });
  try {
    await Promise.all([a.tubeFound('warm-up'), b.tubeFound('warm-up')]);
    const pair = await connectTubes({
      server: a,
      client: b,
      serverSettings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0', ...s.settings(turn) },
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echoPort },
      timeoutMs: 30_000,
    });
    const p = (await a.getConnectionStats(pair.serverTube)).selected_candidate_pair;
    const pairName = p
      ? `${p.local.type}${p.local.relay_protocol ? `/${p.local.relay_protocol}` : ''}`
      : 'none';
    if (pairName !== s.expect) throw new Error(`${s.name}: selected pair ${pairName}, expected ${s.expect}`);
    const port = pair.listenAddr?.split(':').pop();
    const r = await netnsTransfer(net, net.hosts[0]!, `127.0.0.1:${port}`, bytes);
    if (r.received !== bytes || r.receivedSha256 !== r.sentSha256)
      throw new Error(`${s.name}: echo mismatch ${JSON.stringify(r)} (sent ${bytes})`);
    return { pair: pairName, readyMs: pair.createToReadyMs, rate: (2 * bytes) / MiB / (r.ms / 1000) };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

const net = await createNetwork(3);
const rows: Row[] = [];
let turn: Coturn | undefined;
let stopEcho: (() => void) | undefined;
try {
  turn = await startCoturn(net, net.hosts[2]!, { users: { bench: 'benchpass' }, tlsPort: 5349 });
  const echo = await netnsEcho(net, net.hosts[1]!);
  stopEcho = echo.stop;
  for (const s of SCENARIOS.filter((x) => values.only === undefined || x.name.includes(values.only))) {
    const rates: number[] = [];
    const failures: string[] = [];
    let pair = '';
    let readyMs = 0;
    for (let i = 0; i < rounds; i++) {
      try {
        const r = await runRound(net, turn, echo.port, s);
        rates.push(r.rate);
        pair = r.pair;
        readyMs = r.readyMs;
        process.stderr.write(`${s.name} round ${i + 1}: ${r.rate.toFixed(1)} MiB/s both ways\n`);
      } catch (err) {
        failures.push((err as Error).message);
        process.stderr.write(`${s.name} round ${i + 1} FAILED: ${(err as Error).message}\n`);
      }
    }
    const sorted = [...rates].sort((x, y) => x - y);
    rows.push({
      scenario: s.name,
      pair,
      readyMs,
      mibPerSecBothWays: rates,
      median: sorted.length > 0 ? (sorted[Math.floor(sorted.length / 2)] as number) : Number.NaN,
      failures,
    });
  }
} finally {
  stopEcho?.();
  await turn?.stop();
  await net.dispose();
}

const m = machine(['werift']);
if (values.json) {
  console.log(JSON.stringify({ machine: m, mib: Number(values.mib), rounds, rows }, null, 2));
} else {
  const direct = rows[0]?.median ?? 1;
  console.log(`Machine: ${JSON.stringify(m)}`);
  console.log(
    `Echo of ${values.mib} MiB through a TCP tunnel, ${rounds} rounds per scenario (median), both ways counted:\n`,
  );
  console.log(
    '| Path | Selected pair | Ready (ms, last round) | MiB/s both ways (median) | vs direct | Rounds | Failed rounds |',
  );
  console.log('|---|---|---:|---:|---:|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.scenario} | ${r.pair} | ${r.readyMs.toFixed(0)} | ${r.median.toFixed(1)} | ${(r.median / direct).toFixed(2)}× | ${r.mibPerSecBothWays.map((x) => x.toFixed(1)).join(', ')} | ${r.failures.length > 0 ? r.failures.join('; ') : '—'} |`,
    );
  }
}
process.exit(0);
