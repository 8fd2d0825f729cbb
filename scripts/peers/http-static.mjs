#!/usr/bin/env node
// Minimal static HTTP/1.1 server for peers-up.sh (no python needed):
//   node http-static.mjs --listen=127.0.0.1:8080 --dir=/tmp/tubes-peers/www
// Serves regular files of --dir (no listing, no path escape), with Content-Length; GET and HEAD only.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const arg = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, ...v] = a.replace(/^--/, '').split('=');
    return [k, v.join('=')];
  }),
);
const [host, port] = (arg.listen ?? '127.0.0.1:0').split(':');
const root = path.resolve(arg.dir ?? '.');

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return;
  }
  const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  const file = path.resolve(root, `.${rel}`);
  if (!file.startsWith(root + path.sep)) {
    res.writeHead(403).end();
    return;
  }
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
});
server.listen(Number(port), host, () => {
  const a = server.address();
  console.log(`http-static ${a.address}:${a.port} serving ${root}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
