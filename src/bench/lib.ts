/**
 * Pieces every benchmark shares: JSON lines over a child's stdio, spawning a benchmark child, the
 * machine description printed next to the numbers, and Markdown tables.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { siblingModule } from '../registry/wire.ts';

export type Json = Record<string, unknown>;

/** Messages read one JSON object per line; a line that is not JSON is passed on to stderr. */
export class JsonLines {
  readonly #queue: Json[] = [];
  readonly #timeoutMs: number;
  #waiter: { resolve(m: Json): void; reject(err: Error): void } | undefined;
  #closed: Error | undefined;

  constructor(input: NodeJS.ReadableStream, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    const rl = createInterface({ input });
    rl.on('close', () => {
      this.#closed = new Error('input closed');
      this.#waiter?.reject(this.#closed);
      this.#waiter = undefined;
    });
    rl.on('line', (line) => {
      let msg: Json;
      try {
        msg = JSON.parse(line) as Json;
      } catch {
        process.stderr.write(`${line}\n`);
        return;
      }
      const w = this.#waiter;
      this.#waiter = undefined;
      if (w) w.resolve(msg);
      else this.#queue.push(msg);
    });
  }

  next(timeoutMs = this.#timeoutMs): Promise<Json> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }
}

export function writeJson(target: NodeJS.WritableStream, msg: Json): void {
  target.write(`${JSON.stringify(msg)}\n`);
}

export interface BenchChild {
  proc: ChildProcess;
  lines: JsonLines;
  exited: Promise<void>;
  send(msg: Json): void;
  /** Ends its stdin and waits for it to exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** The benchmarks' child entry (./child.ts from src/, child.js from dist/): `<bench> <args…>`. */
export function benchChildEntry(): string {
  return siblingModule(import.meta.url, 'child');
}

/** Runs `script args…` in a new Node process speaking JSON lines on stdin/stdout (stderr inherited). */
export function spawnBenchChild(
  script: string,
  args: string[],
  options: { execArgv?: string[]; timeoutMs: number },
): BenchChild {
  const proc = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => proc.once('close', () => r()));
  proc.stdin?.on('error', () => {}); // a child that died: its failure is reported through its output
  return {
    proc,
    lines: new JsonLines(proc.stdout as NodeJS.ReadableStream, options.timeoutMs),
    exited,
    send: (msg) => writeJson(proc.stdin as NodeJS.WritableStream, msg),
    stop: async () => {
      proc.stdin?.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The installed version of a package (its package.json is not always exported), or 'n/a'. */
export function packageVersion(pkg: string): string {
  try {
    const req = createRequire(import.meta.url);
    let dir = path.dirname(req.resolve(pkg));
    while (path.basename(dir) !== pkg && dir !== path.dirname(dir)) dir = path.dirname(dir);
    return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'n/a';
  }
}

/** CPU model, cores, Node, the given packages' versions, OS, date and load average. */
export function machine(packages: string[] = ['werift']): Json {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^Model name:\s*(.+)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m?.[1]) model = m[1].trim();
  } catch {
    // lscpu missing: os.cpus() model
  }
  const versions: Json = {};
  for (const p of packages)
    versions[p.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = packageVersion(p);
  return {
    cpu: model,
    cores: os.availableParallelism(),
    node: process.version,
    ...versions,
    os: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    loadavg: os.loadavg().map((x) => Number(x.toFixed(2))),
  };
}

/** A Markdown table with padded columns; a cell starting with a digit, '–' or '—' is right-aligned. */
export function mdTable(rows: string[][], align?: ('l' | 'r')[]): string[] {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(3, ...rows.map((r) => (r[c] ?? '').length)));
  const [head, ...body] = rows;
  const right = (c: number): boolean =>
    align ? align[c] === 'r' : body.length > 0 && body.every((r) => /^[\d–—-]/.test(r[c] ?? ''));
  const line = (cells: string[]): string =>
    `| ${cells.map((x, c) => (right(c) ? x.padStart(widths[c] ?? 0) : x.padEnd(widths[c] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (right(c) ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(head ?? []), rule, ...body.map(line)];
}

/** One line per machine description: what every report prints next to its figures. */
export function describeMachine(m: Json): string {
  const versions = Object.entries(m)
    .filter(([k]) => !['cpu', 'cores', 'node', 'os', 'date', 'loadavg'].includes(k))
    .map(([k, v]) => `${k} ${String(v)}`);
  const load = Array.isArray(m['loadavg']) ? `, load average ${(m['loadavg'] as number[]).join(' ')}` : '';
  return [
    `${String(m['cpu'])}, ${String(m['cores'])} cores, Node ${String(m['node'])}`,
    ...versions,
    String(m['os']),
    `${String(m['date'])}${load}`,
  ].join(', ');
}
