#!/usr/bin/env node
// Builds the browser side with esbuild (runs after tsc in `npm run build`):
//   dist/browser/index.js      `webrtc-tubes/browser` (ESM bundle; the .d.ts files come from tsc)
//   dist/browser/web/app.js    the page of `tubes gateway --web` (with guacamole-common-js) + index.html
//
//   node scripts/build-browser.mjs [--out-dir DIR]
//
// src/platform/bytes.ts (Node) is replaced by src/platform/bytes.browser.ts; any other `node:` import is a
// build error, so nothing of Node reaches the bundle.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

const browserPlatform = {
  name: 'tubes-browser-platform',
  setup(b) {
    b.onResolve({ filter: /(^|\/)platform\/bytes\.ts$/ }, (args) => ({
      path: join(resolve(args.resolveDir, dirname(args.path)), 'bytes.browser.ts'),
    }));
    b.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [
        { text: `${args.path} imported by ${args.importer}: the browser build takes no Node modules` },
      ],
    }));
  },
};

/** Builds both bundles into `outDir` (default dist/browser). */
export async function buildBrowser(outDir = join(root, 'dist/browser')) {
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
    plugins: [browserPlatform],
  };
  await build({
    ...common,
    entryPoints: [join(root, 'src/browser/index.ts')],
    outfile: join(outDir, 'index.js'),
  });
  await build({
    ...common,
    entryPoints: [join(root, 'src/browser/web/app.ts')],
    outfile: join(outDir, 'web/app.js'),
    minify: true,
  });
  mkdirSync(join(outDir, 'web'), { recursive: true });
  copyFileSync(join(root, 'src/browser/web/index.html'), join(outDir, 'web/index.html'));
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out-dir');
  const out = await buildBrowser(i > 0 ? resolve(process.argv[i + 1]) : undefined);
  console.log(`browser bundles in ${out}`);
}
