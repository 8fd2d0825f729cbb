/** What a benchmark module exports for the `tubes bench` registry (./index.ts). */
import type { ParseArgsConfig } from 'node:util';
import type { Chart } from './charts.ts';
import type { Json } from './lib.ts';
import type { Progress } from './progress.ts';

export type BenchOptions = NonNullable<ParseArgsConfig['options']>;
export type BenchValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface BenchContext {
  /** The bench's arguments as given (for reports that quote the command). */
  args: string[];
  progress: Progress;
  /** Skipped rows and other remarks: printed under the tables, in the JSON and in the report. */
  notes: string[];
}

export interface BenchOutput {
  /** CPU, cores, Node and package versions, OS, date, load average (./lib.ts machine()). */
  machine: Json;
  /** The machine-readable result (`--json` prints it, with the bench name and the notes added). */
  data: Json;
  /** The tables as docs/PERFORMANCE.md shows them (Markdown), printed when not `--json`. */
  text: string;
  charts: Chart[];
}

export interface BenchDef {
  name: string;
  /** One line for `tubes bench --help`. */
  summary: string;
  /** The bench's own part of `tubes bench <name> --help`: what it measures and its options. */
  help: string;
  /** parseArgs options of the bench (the runner adds --json, --report, --svg, --help). */
  options: BenchOptions;
  run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput>;
  /** Entry of the bench's child processes (./child.ts calls it with the arguments after the bench name). */
  child?(args: string[]): Promise<void>;
}
