/**
 * The layering docs/ARCHITECTURE.md states, checked against the imports: every relative import in src/
 * points down the order (or sideways where the table allows), only src/webrtc/ imports werift, and the
 * browser build's import graph reaches no `node:` module. A new import that points up fails here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Layer of a file: its first directory under src/, or the file name for src/*.ts. */
function layerOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? (rel[0] as string).replace(/\.ts$/, '') : (rel[0] as string);
}

/** Which layers each layer may import (itself always). Mirrors docs/ARCHITECTURE.md "Layers". */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  platform: [],
  log: ['errors'],
  hotpath: ['errors', 'log', 'platform'],
  metrics: ['errors', 'log'],
  protocol: ['errors', 'log', 'hotpath', 'platform'],
  config: ['errors', 'log', 'protocol'],
  channel: ['errors', 'log', 'hotpath', 'metrics', 'protocol', 'config'],
  webrtc: ['errors', 'log', 'metrics', 'channel:port'],
  browser: ['errors', 'hotpath', 'protocol'],
  registry: ['errors', 'log', 'hotpath', 'metrics', 'protocol', 'config', 'channel', 'webrtc'],
  // `tubes bench` loads the benchmarks' list (src/bench/index.ts) on demand
  cli: [
    'errors',
    'log',
    'hotpath',
    'metrics',
    'protocol',
    'config',
    'channel',
    'webrtc',
    'registry',
    'bench:index',
  ],
  // the benchmarks measure every layer (stock werift through src/webrtc/stock-peer.ts)
  bench: [
    'errors',
    'log',
    'hotpath',
    'metrics',
    'protocol',
    'config',
    'channel',
    'webrtc',
    'registry',
    'cli',
    'index',
  ],
  index: [
    'errors',
    'log',
    'hotpath',
    'metrics',
    'protocol',
    'config',
    'channel',
    'webrtc',
    'registry',
    'cli',
  ],
};

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(IMPORT)) specs.push((m[1] ?? m[2] ?? m[3]) as string);
  return specs;
}

const files = walk(SRC);

describe('architecture: imports follow the layers', () => {
  it('finds the source files and their imports (the check is not vacuous)', () => {
    expect(files.length).toBeGreaterThan(40);
    const total = files.reduce((n, f) => n + importsOf(f).length, 0);
    expect(total).toBeGreaterThan(150);
  });

  it('every relative import points to a layer the importer may use', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      const allowed = ALLOWED[from];
      if (!allowed) {
        violations.push(`${path.relative(SRC, file)}: layer "${from}" is not in the table`);
        continue;
      }
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = path.resolve(path.dirname(file), spec);
        const to = layerOf(target);
        if (to === from) continue;
        const ok =
          allowed.includes(to) || allowed.includes(`${to}:${path.basename(target).replace(/\.ts$/, '')}`);
        if (!ok) violations.push(`${path.relative(SRC, file)} (${from}) → ${spec} (${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('only src/webrtc/ imports werift', () => {
    const offenders = files.filter(
      (f) => layerOf(f) !== 'webrtc' && importsOf(f).some((s) => s === 'werift' || s.startsWith('werift/')),
    );
    expect(offenders.map((f) => path.relative(SRC, f))).toEqual([]);
  });

  it('the browser build reaches no node: module and no Buffer global', () => {
    const entry = path.join(SRC, 'browser', 'index.ts');
    let exists = true;
    try {
      statSync(entry);
    } catch {
      exists = false;
    }
    if (!exists) return; // no browser build in this tree
    const seen = new Set<string>();
    const bad: string[] = [];
    // the browser bundle replaces the Node platform module by its browser twin (scripts/build-browser.mjs)
    const nodePlatform = path.join(SRC, 'platform', 'bytes.ts');
    const visit = (target: string): void => {
      const file = target === nodePlatform ? path.join(SRC, 'platform', 'bytes.browser.ts') : target;
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith('node:')) bad.push(`${path.relative(SRC, file)} → ${spec}`);
        if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
      }
    };
    visit(entry);
    expect(bad).toEqual([]);
    expect(seen.size).toBeGreaterThan(1);
  });
});
