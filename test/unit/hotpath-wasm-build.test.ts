import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as bytes from '../../src/hotpath/engine/wasm-bytes.ts';

// @ts-expect-error: plain .mjs build script without type declarations
const { build, TARGETS } = (await import('../../scripts/build-wasm.mjs')) as {
  build(argv: string[]): Promise<{ buildDir: string; bytesFile: string }>;
  TARGETS: { name: string; constant: string }[];
};

const root = new URL('../../', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'tubes-wasm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('committed Wasm bytes', () => {
  it('are what `npm run build:wasm` produces from assembly/ (rebuild and byte-compare)', async () => {
    await build(['--out-dir', dir]);
    for (const t of TARGETS) {
      const fresh = readFileSync(join(dir, `${t.name}.wasm`));
      expect(
        readFileSync(new URL(`build/${t.name}.wasm`, root)).equals(fresh),
        `build/${t.name}.wasm is stale`,
      ).toBe(true);
      expect(
        readFileSync(new URL(`build/${t.name}.wat`, root)).equals(readFileSync(join(dir, `${t.name}.wat`))),
      ).toBe(true);
      const embedded = (bytes as Record<string, unknown>)[t.constant];
      expect(
        Buffer.from(String(embedded), 'base64').equals(fresh),
        `wasm-bytes.ts ${t.constant} is stale`,
      ).toBe(true);
    }
    expect(readFileSync(new URL('src/hotpath/engine/wasm-bytes.ts', root), 'utf8')).toBe(
      readFileSync(join(dir, 'wasm-bytes.ts'), 'utf8'),
    );
  });

  it('are only the shipped modules: no benchmark-only build in build/ or in the embedded bytes', () => {
    const shipped = TARGETS.flatMap((t) => [`${t.name}.wasm`, `${t.name}.wat`]).sort();
    expect(readdirSync(new URL('build/', root)).sort()).toEqual(shipped);
    expect(Object.keys(bytes).sort()).toEqual(['WASM_MEMORY', ...TARGETS.map((t) => t.constant)].sort());
  });
});
