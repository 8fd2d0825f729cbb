/**
 * `tubes bench` from the published package: `npm pack` (which builds dist/ through `prepare`), the tarball
 * unpacked as node_modules/webrtc-tubes of an empty temporary project, and only the package's declared
 * `dependencies` made available next to it (linked from this checkout's node_modules, so the test needs no
 * registry; nothing from devDependencies is reachable). Then:
 * - `tubes bench hotpath --json` with a short filter and time produces rows with a figure for every engine
 *   and the engine `auto` ran, and notes that the plain-memory rows (repository-only) are skipped;
 * - `tubes bench transport --stacks ndc` notes that node-datachannel (a devDependency) is absent, no crash.
 */
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'tubes-bench-pack-'));
const project = path.join(work, 'project');
const installed = path.join(project, 'node_modules', 'webrtc-tubes');
const tubes = path.join(installed, 'dist', 'cli', 'tubes.js');

beforeAll(async () => {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const filename =
    (JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[])[0]?.filename ?? '';
  mkdirSync(installed, { recursive: true });
  await run('tar', ['-xzf', path.join(work, filename), '-C', installed, '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const dep of Object.keys(pkg.dependencies)) {
    const link = path.join(project, 'node_modules', dep);
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync(realpathSync(path.join(ROOT, 'node_modules', dep)), link, 'dir');
  }
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function tubesJson(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [tubes, ...args], { cwd: project, timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('tubes bench from the packed package', () => {
  it('ships the benchmarks, not their sources or the repository scripts', () => {
    const files = readdirSync(path.join(installed, 'dist', 'bench'));
    for (const f of ['index.js', 'child.js', 'hotpath.js', 'tunnel.js', 'transport.js', 'report.js']) {
      expect(files).toContain(f);
    }
    expect(readdirSync(installed)).not.toContain('scripts');
    expect(readdirSync(installed)).not.toContain('src');
  });

  it('bench hotpath --json: rows for every engine, with the engine auto ran', async () => {
    const r = (await tubesJson([
      'bench',
      'hotpath',
      '--json',
      '--rounds',
      '1',
      '--time',
      '5',
      '--filter',
      '^(frame parse 64 B|guac French ~1024 B \\(1024 B\\)|countCodePoints 16 B|copy-in 64 KiB into (shared|plain) Wasm memory)$',
    ])) as {
      bench: string;
      machine: { node: string; tinybench: string };
      meta: { engines: string[] };
      rows: { case: string; ns: Record<string, number>; autoRan?: string }[];
      notes: string[];
    };
    expect(r.bench).toBe('hotpath');
    expect(r.machine.tinybench).toMatch(/^\d+\.\d+\.\d+$/);
    expect(r.meta.engines).toEqual(['js', 'wasm', 'wasm-simd', 'auto']);
    const byCase = new Map(r.rows.map((row) => [row.case, row]));
    for (const name of ['frame parse 64 B', 'guac French ~1024 B (1024 B)', 'countCodePoints 16 B']) {
      const row = byCase.get(name);
      expect(row, name).toBeDefined();
      for (const engine of ['js', 'wasm', 'wasm-simd', 'auto']) expect(row?.ns[engine]).toBeGreaterThan(0);
      expect(row?.autoRan).toMatch(/^(js|wasm|wasm-simd|js \+ wasm(-simd)?)$/);
    }
    // frames always run in JS under auto; a ~1 KiB French instruction goes to the Wasm SIMD scanner
    expect(byCase.get('frame parse 64 B')?.autoRan).toBe('js');
    expect(byCase.get('guac French ~1024 B (1024 B)')?.autoRan).toBe('wasm-simd');
    // the shared-memory copy row needs nothing outside the package; the plain-memory twin is noted
    expect(byCase.get('copy-in 64 KiB into shared Wasm memory')?.ns['wasm-simd']).toBeGreaterThan(0);
    expect(r.notes.join('\n')).toMatch(/plain.*skipped/);
  }, 60_000);

  it('bench transport --stacks ndc: node-datachannel absent → a note, no crash', async () => {
    const r = (await tubesJson(['bench', 'transport', '--json', '--runs', '1', '--stacks', 'ndc'])) as {
      rows: unknown[];
      notes: string[];
    };
    expect(r.rows).toEqual([]);
    expect(r.notes.join('\n')).toMatch(/node-datachannel cannot load .*skipped/);
  }, 30_000);
});
