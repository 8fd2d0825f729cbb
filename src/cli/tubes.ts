#!/usr/bin/env node
/** The `tubes` command line. */
import { parseArgs } from 'node:util';
import { positiveInt, UsageError } from './cli-common.ts';
import { connect } from './connect.ts';
import { type DemoProgress, type DemoResult, newProgress, runDemo } from './demo.ts';
import { gateway } from './gateway.ts';
import { formatBytes, parseBytes } from './workload.ts';

const HELP = `Usage: tubes <command> [options]

Commands:
  demo      Tunnel a TCP transfer and an echo RTT probe through two local tubes (loopback only)
  gateway   Answer tubes for one service (TCP target, SOCKS5, guacd), signalling over HTTP or stdio
  connect   Open a tube to a gateway and listen locally (TCP or SOCKS5)
  bench     Run a benchmark on this machine: hotpath, tunnel, transport, socks5, guacd, workers

Options:
  -h, --help  Show help (also: tubes <command> --help)
`;

const DEMO_HELP = `Usage: tubes demo [options]

Starts two tubes joined over 127.0.0.1, a local TCP echo target, and sends data through the server
tube's local listener to the target and back (sha256 of sent and received compared), then measures
small-message echo round trips. Exits 0 on success, 1 on failure, 2 on bad arguments.

Options:
  --bytes <n>        Bytes to send (echoed back); K/M/G suffixes are binary (default 64M)
  --two-process      Run the gateway (client) tube in a child process
  --rtt-count <n>    Echo round trips to measure (default 200)
  --rtt-size <n>     Bytes per round trip (default 32)
  --timeout <s>      Give up after this many seconds (default 300)
  --json             Print one JSON object instead of text
  -h, --help         Show this help
`;

function statusLine(p: DemoProgress, total: number): string {
  if (p.phase === 'connecting') return 'connecting tubes…';
  if (p.phase === 'transfer') {
    const secs = (performance.now() - p.transferStartedAt) / 1000;
    const rate = secs > 0 ? p.received / 1e6 / secs : 0;
    return `transfer  sent ${formatBytes(p.sent)}  back ${formatBytes(p.received)} of ${formatBytes(total)}  ${rate.toFixed(2)} MB/s`;
  }
  if (p.phase === 'rtt') {
    const last = p.lastRttMs === undefined ? '' : `  last ${p.lastRttMs.toFixed(3)} ms`;
    return `echo RTT  ${p.rttDone} round trips${last}`;
  }
  return '';
}

function printText(r: DemoResult, out: (line: string) => void): void {
  out(`tubes demo (${r.mode}, Node ${r.node}, loopback)`);
  if (r.createToReadyMs !== undefined) out(`  tube create→ready  ${r.createToReadyMs.toFixed(1)} ms`);
  const t = r.transfer;
  if (t) {
    out(
      `  transfer          ${formatBytes(t.sentBytes)} echoed in ${(t.ms / 1000).toFixed(2)} s, ${t.mbPerSec.toFixed(2)} MB/s each way`,
    );
    out(`  sha256            ${t.hashMatch ? `match ${t.sentSha256}` : 'MISMATCH'}`);
    if (!t.hashMatch) out(`    sent ${t.sentSha256}\n    back ${t.receivedSha256}`);
  }
  const rtt = r.rtt;
  if (rtt) {
    out(
      `  echo RTT          p50 ${rtt.p50Ms.toFixed(3)} ms  p99 ${rtt.p99Ms.toFixed(3)} ms  (${rtt.count} × ${rtt.size} B)`,
    );
  }
  out(r.ok ? 'OK' : `FAILED: ${r.error ?? 'unknown error'}`);
}

async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      bytes: { type: 'string' },
      'two-process': { type: 'boolean' },
      'rtt-count': { type: 'string' },
      'rtt-size': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(DEMO_HELP);
    return 0;
  }
  let bytes: number;
  try {
    bytes = parseBytes(values.bytes ?? '64M');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const opts = {
    bytes,
    twoProcess: values['two-process'] === true,
    rttCount: positiveInt('rtt-count', values['rtt-count'], 200),
    rttSize: positiveInt('rtt-size', values['rtt-size'], 32),
    timeoutMs: positiveInt('timeout', values.timeout, 300) * 1000,
  };
  const json = values.json === true;
  const live = !json && process.stdout.isTTY === true;
  const progress = newProgress();
  let timer: NodeJS.Timeout | undefined;
  if (live) {
    timer = setInterval(() => process.stdout.write(`\r${statusLine(progress, bytes)}\x1b[K`), 250);
  }
  const result = await runDemo(opts, progress);
  if (timer) {
    clearInterval(timer);
    process.stdout.write('\r\x1b[K');
  }
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else printText(result, (line) => process.stdout.write(`${line}\n`));
  if (!result.ok && json) process.stderr.write(`tubes demo failed: ${result.error ?? 'unknown error'}\n`);
  return result.ok ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    }
    if (command === 'demo') return await demo(rest);
    if (command === 'gateway') return await gateway(rest);
    if (command === 'connect') return await connect(rest);
    // loaded on demand: the benchmarks pull in tinybench and every engine
    if (command === 'bench') return await (await import('../bench/index.ts')).benchCommand(rest);
    throw new UsageError(`Unknown command: ${command}`);
  } catch (err) {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`tubes: ${(err as Error).message}\n`);
    if (usage) {
      let sub = command === 'demo' || command === 'gateway' || command === 'connect' ? `${command} ` : '';
      if (command === 'bench') {
        const { BENCHES } = await import('../bench/index.ts');
        sub = BENCHES.some((b) => b.name === rest[0]) ? `bench ${rest[0]} ` : 'bench ';
      }
      process.stderr.write(`Run "tubes ${sub}--help" for usage.\n`);
      return 2;
    }
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
