/**
 * `tubes bench <name>`: the benchmarks, shipped in the package (compiled to dist/bench/).
 *
 * How a benchmark is added (the pattern every bench here follows):
 * - It lives in `src/bench/<name>.ts` and exports `bench: BenchDef` (./types.ts): `name`, a one-line
 *   `summary`, its `help` text (what it measures, its own options), its parseArgs `options`, and
 *   `run(values, ctx)` returning `{ machine, data, text, charts }`: the machine description (./lib.ts
 *   `machine()`), the JSON result, the Markdown tables as docs/PERFORMANCE.md shows them, and its charts
 *   (./charts.ts). It reports progress with `ctx.progress.update(step)` / `.log(line)` and skipped rows
 *   with `ctx.notes.push(why)`; it never writes to stdout and never exits the process.
 * - It registers with one import and one entry in `BENCHES` below.
 * - A bench with child processes also exports `child(args)` in its `BenchDef`; ./child.ts runs it, and the
 *   bench spawns `spawnBenchChild(benchChildEntry(), ['<name>', …args], …)` (./lib.ts).
 * - Its npm script is a thin wrapper: `"bench:<name>": "node src/cli/tubes.ts bench <name>"`.
 * - Moving a script-style bench (bench/<name>.ts with top-level code) here: its argv parsing becomes
 *   `options` + `help`, its body `run()`; `process.stdout.write` of the tables becomes the returned `text`,
 *   stderr logging `ctx.progress.log`, `--child` modes `child()`; imports `../src/x` become `../x`.
 *   Bad arguments throw `UsageError` (src/cli/cli-common.ts: exit code 2).
 * - Optional devDependencies and external programs (node-datachannel, danted, curl…) are loaded or
 *   looked up at run time; when absent, the rows needing them are skipped with a note, never a crash.
 * The runner below adds `--json`, `--report <file.html>`, `--svg <dir>` and `--help` to every bench.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../cli/cli-common.ts';
import { bench as guacd } from './guacd.ts';
import { bench as hotpath } from './hotpath.ts';
import { describeMachine } from './lib.ts';
import { bench as liveBuffers } from './live-buffers.ts';
import { bench as micro } from './micro.ts';
import { Progress } from './progress.ts';
import { htmlReport } from './report.ts';
import { bench as socks5 } from './socks5.ts';
import { bench as transport } from './transport.ts';
import { bench as tunnel } from './tunnel.ts';
import type { BenchDef, BenchValues } from './types.ts';
import { bench as workers } from './workers.ts';

export const BENCHES: readonly BenchDef[] = [
  hotpath,
  tunnel,
  transport,
  socks5,
  guacd,
  workers,
  micro,
  liveBuffers,
];

const COMMON_HELP = `
Output (every bench):
  --json             Print one JSON object on stdout instead of the tables
  --report <file>    Also write a self-contained HTML page: charts, machine, tables, raw JSON
  --svg <dir>        Also write each chart as <dir>/<chart>.svg
  -h, --help         Show this help

Progress goes to stderr (redrawn on a terminal). Exits 0 on success, 1 on failure, 2 on bad arguments.
`;

export function benchHelp(): string {
  const width = Math.max(...BENCHES.map((b) => b.name.length));
  return `Usage: tubes bench <name> [options]

Runs a benchmark on this machine and prints the tables of docs/PERFORMANCE.md for it.

Benchmarks:
${BENCHES.map((b) => `  ${b.name.padEnd(width)}  ${b.summary}`).join('\n')}
${COMMON_HELP}
Run "tubes bench <name> --help" for a benchmark's own options. The machine is busy while a benchmark runs:
figures from a shared machine are noisy, compare ratios within one run.
`;
}

/** `tubes bench …` → exit code. */
export async function benchCommand(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(benchHelp());
    return name === undefined ? 2 : 0;
  }
  const def = BENCHES.find((b) => b.name === name);
  if (!def)
    throw new UsageError(`Unknown benchmark: ${name} (one of ${BENCHES.map((b) => b.name).join(', ')})`);
  const { values } = parseArgs({
    args: rest,
    options: {
      ...def.options,
      json: { type: 'boolean' },
      report: { type: 'string' },
      svg: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`Usage: tubes bench ${def.name} [options]\n\n${def.help}${COMMON_HELP}`);
    return 0;
  }
  const json = values.json === true;
  const progress = new Progress(def.name);
  const notes: string[] = [];
  let out: Awaited<ReturnType<BenchDef['run']>>;
  try {
    // the bench's own arguments, without the runner's output options
    const own = rest.filter(
      (a, i) =>
        a !== '--json' && !/^--(report|svg)(=|$)/.test(a) && !/^--(report|svg)$/.test(rest[i - 1] ?? ''),
    );
    out = await def.run(values as BenchValues, { args: own, progress, notes });
  } finally {
    progress.done();
  }
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ bench: def.name, machine: out.machine, ...out.data, notes })}\n`,
    );
  } else {
    process.stdout.write(`${out.text}\n`);
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
  }
  const done = (line: string): void => void process.stderr.write(`${line}\n`);
  if (typeof values.report === 'string') {
    writeFileSync(
      values.report,
      htmlReport({
        bench: def.name,
        command: `tubes bench ${args.join(' ')}`,
        machine: out.machine,
        notes,
        charts: out.charts,
        text: out.text,
        data: out.data,
      }),
    );
    done(
      `report: ${path.resolve(values.report)} (${out.charts.length} charts; ${describeMachine(out.machine)})`,
    );
  }
  if (typeof values.svg === 'string') {
    mkdirSync(values.svg, { recursive: true });
    for (const c of out.charts) writeFileSync(path.join(values.svg, `${c.id}.svg`), `${c.svg}\n`);
    done(
      `charts: ${out.charts.map((c) => path.join(values.svg as string, `${c.id}.svg`)).join(', ') || 'none'}`,
    );
  }
  return 0;
}
