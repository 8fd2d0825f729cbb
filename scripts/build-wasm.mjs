#!/usr/bin/env node
// Builds the hot-path Wasm modules from assembly/ with AssemblyScript and regenerates
// src/hotpath/engine/wasm-bytes.ts, which embeds them (base64) so consumers never need the compiler.
//
//   node scripts/build-wasm.mjs                # writes build/*.wasm, build/*.wat, src/hotpath/engine/wasm-bytes.ts
//   node scripts/build-wasm.mjs --out-dir DIR  # writes everything (including wasm-bytes.ts) into DIR
//
// asc output is deterministic: test/unit/hotpath-wasm-build.test.ts rebuilds into a temp dir and byte-compares.
// Only the shipped modules are built here; src/bench/hotpath.ts compiles its non-shared-memory variant
// (PLAIN_MEMORY_TARGET) on demand with compileToBytes().
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Pages of 64 KiB the modules declare; JS creates the memory with the same limits. */
export const MEMORY = { initial: 1, maximum: 16384 };

const common = [
  'assembly/index.ts',
  '--runtime',
  'stub',
  '-O3',
  '--noAssert',
  '--importMemory',
  '--initialMemory',
  String(MEMORY.initial),
  '--maximumMemory',
  String(MEMORY.maximum),
];
const shared = ['--sharedMemory', '--enable', 'threads'];

/** The modules the package ships (embedded in wasm-bytes.ts, copied to build/). */
export const TARGETS = [
  { name: 'hotpath-simd', constant: 'WASM_SIMD', args: [...shared, '--enable', 'simd'] },
  { name: 'hotpath-scalar', constant: 'WASM_SCALAR', args: [...shared] },
];
/** Non-shared memory, for the benchmark's shared-vs-plain comparison only: never shipped. */
export const PLAIN_MEMORY_TARGET = { name: 'hotpath-simd-plain', args: ['--enable', 'simd'] };

async function compile(target, outDir) {
  const wasm = join(outDir, `${target.name}.wasm`);
  const wat = join(outDir, `${target.name}.wat`);
  let log = '';
  const sink = {
    write(s) {
      log += s;
      return true;
    },
  };
  const { error } = await asc.main([...common, ...target.args, '-o', wasm, '-t', wat], {
    stdout: sink,
    stderr: sink,
    baseDir: root,
  });
  if (error) throw new Error(`asc failed for ${target.name}: ${error.message}\n${log}`);
  return wasm;
}

/** Compiles `target` into a temporary directory and returns the module bytes. */
export async function compileToBytes(target) {
  const dir = mkdtempSync(join(tmpdir(), 'tubes-wasm-'));
  try {
    return readFileSync(await compile(target, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseArgs(argv) {
  const i = argv.indexOf('--out-dir');
  if (i < 0) {
    return { buildDir: join(root, 'build'), bytesFile: join(root, 'src/hotpath/engine/wasm-bytes.ts') };
  }
  const dir = resolve(argv[i + 1] ?? '');
  return { buildDir: dir, bytesFile: join(dir, 'wasm-bytes.ts') };
}

export async function build(argv = process.argv.slice(2)) {
  const { buildDir, bytesFile } = parseArgs(argv);
  mkdirSync(buildDir, { recursive: true });
  const lines = [
    '// GENERATED FILE, DO NOT EDIT. Written by scripts/build-wasm.mjs from assembly/ (AssemblyScript):',
    '// change assembly/ and run `npm run build:wasm`. The .wasm files in build/ are the same bytes;',
    '// test/unit/hotpath-wasm-build.test.ts fails when these are stale.',
    `export const WASM_MEMORY = { initial: ${MEMORY.initial}, maximum: ${MEMORY.maximum} } as const;`,
  ];
  for (const target of TARGETS) {
    const file = await compile(target, buildDir);
    const b64 = readFileSync(file).toString('base64');
    lines.push(`export const ${target.constant} = '${b64}';`);
  }
  writeFileSync(bytesFile, `${lines.join('\n')}\n`);
  return { buildDir, bytesFile };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { buildDir, bytesFile } = await build();
  process.stdout.write(
    `wasm: built ${TARGETS.map((t) => t.name).join(', ')} into ${buildDir}; embedded in ${bytesFile}\n`,
  );
}
