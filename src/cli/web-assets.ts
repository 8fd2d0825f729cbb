/**
 * The static files of `tubes gateway --web`: the remote-desktop page (src/browser/web, bundled into
 * dist/browser/web by scripts/build-browser.mjs). A request handler of its own, composed in front of the
 * signalling server: it answers GET/HEAD for the page's few files and leaves every other path alone.
 *
 * The page is same-origin with /tubes (no CORS anywhere); it is served cross-origin isolated (COOP/COEP) so
 * the Wasm engines (they need a shared memory) load, with a CSP that allows only this origin (and Wasm compilation).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.js.map': { file: 'app.js.map', type: 'application/json' },
};

const HEADERS = {
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
    "img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
};

/** Where the built page is: next to this module in a package (dist/), or dist/ of a source checkout. */
export function defaultWebRoot(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '../browser/web'), path.join(here, '../../dist/browser/web')];
  return candidates.find(
    (dir) => existsSync(path.join(dir, 'app.js')) && existsSync(path.join(dir, 'index.html')),
  );
}

/**
 * A handler for the page's files under `root`; returns false (nothing written) for any other request, so
 * the caller passes it on. Files are read once.
 */
export function webAssets(root: string): (req: IncomingMessage, res: ServerResponse) => boolean {
  const cache = new Map<string, Buffer>();
  const read = (file: string): Buffer => {
    let body = cache.get(file);
    if (body === undefined) {
      body = readFileSync(path.join(root, file));
      cache.set(file, body);
    }
    return body;
  };
  return (req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://gateway').pathname;
    const entry = FILES[pathname];
    if (entry === undefined) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('Use GET\n');
      return true;
    }
    let body: Buffer;
    try {
      body = read(entry.file);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not built\n');
      return true;
    }
    res.writeHead(200, { ...HEADERS, 'content-type': entry.type, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
