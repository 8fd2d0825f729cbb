#!/usr/bin/env node
// Small reference Guacamole client for checks against a real guacd (or a tube in front of one).
//
//   node guac-handshake.mjs <protocol> key=value ... [--guacd=127.0.0.1:4822] [--out=FILE] [--max=50]
//        [--timeout=8000] [--type=TEXT] [--reply-sync] [--dump-dir=DIR]
//
// select → args → size/audio/video/image/timezone → connect (one value per arg; `VERSION_*` echoed)
// → ready, then records the first --max instructions guacd sends (long elements elided) to --out.
//   --type=TEXT     after ready, sends TEXT as key presses (telnet/ssh; `\n` = Return)
//   --reply-sync    answers every `sync` like a real client (guacd aborts after ~16 s otherwise)
//   --dump-dir=DIR  writes every complete `img` stream to DIR/img-NNN.<ext>
// Exit code 0 when at least one instruction arrived (or --max was reached), 1 on error/timeout.
// Guacamole element lengths count Unicode code points: that is what this client encodes and decodes.
import fs from 'node:fs';
import net from 'node:net';

const opts = { guacd: '127.0.0.1:4822', out: null, max: 50, timeout: 8000, type: null, replySync: false };
const params = {};
let protocol = null;
for (const a of process.argv.slice(2)) {
  if (a.startsWith('--guacd=')) opts.guacd = a.slice(8);
  else if (a.startsWith('--out=')) opts.out = a.slice(6);
  else if (a.startsWith('--max=')) opts.max = Number(a.slice(6));
  else if (a.startsWith('--timeout=')) opts.timeout = Number(a.slice(10));
  else if (a.startsWith('--type=')) opts.type = a.slice(7);
  else if (a === '--reply-sync') opts.replySync = true;
  else if (a.startsWith('--dump-dir=')) {
    opts.dumpDir = a.slice(11);
    fs.mkdirSync(opts.dumpDir, { recursive: true });
  } else if (!protocol) protocol = a;
  else {
    const i = a.indexOf('=');
    params[a.slice(0, i)] = a.slice(i + 1);
  }
}
if (!protocol) {
  console.error('protocol required (vnc|ssh|telnet|rdp)');
  process.exit(2);
}

const codePoints = (s) => [...s].length;
const encode = (...elements) => `${elements.map((e) => `${codePoints(String(e))}.${e}`).join(',')};`;

/** Incremental decoder over a string buffer; yields complete instructions as element arrays. */
let pending = '';
function* decode() {
  for (;;) {
    const elements = [];
    let pos = 0;
    for (;;) {
      const dot = pending.indexOf('.', pos);
      if (dot < 0) return;
      const lenText = pending.slice(pos, dot);
      if (!/^[0-9]{1,7}$/.test(lenText))
        throw new Error(`bad length near ${JSON.stringify(pending.slice(pos, pos + 40))}`);
      const len = Number(lenText);
      let i = dot + 1;
      let n = 0;
      while (n < len && i < pending.length) {
        i += pending.codePointAt(i) > 0xffff ? 2 : 1;
        n++;
      }
      if (n < len || i >= pending.length) return; // need more (the terminator too)
      elements.push(pending.slice(dot + 1, i));
      const terminator = pending[i];
      pos = i + 1;
      if (terminator === ';') break;
      if (terminator !== ',') throw new Error(`bad terminator ${JSON.stringify(terminator)}`);
    }
    pending = pending.slice(pos);
    yield elements;
  }
}

const [host, port] = opts.guacd.split(':');
const sock = net.connect({ host, port: Number(port) });
sock.setEncoding('utf8');
const t0 = Date.now();
const lines = [];
const counts = {};
const streams = new Map();
let state = 'select';
let received = 0;
let dumped = 0;

const show = (els) =>
  `${els.map((e) => `${codePoints(e)}.${e.length > 80 ? `${e.slice(0, 48)}…` : e}`).join(',')};`;

function finish(code, why) {
  const header =
    `# guacd sample: protocol=${protocol} params=${JSON.stringify(params)} reason=${why} ` +
    `elapsed_ms=${Date.now() - t0}\n# opcode counts: ${JSON.stringify(counts)}\n`;
  const body = `${header}${lines.join('\n')}\n`;
  if (opts.out) fs.writeFileSync(opts.out, body);
  console.log(body.split('\n').slice(0, 12).join('\n'));
  console.log(`... ${lines.length} lines total; counts ${JSON.stringify(counts)}; ${why}`);
  sock.destroy();
  process.exit(code);
}
setTimeout(() => finish(received > 0 ? 0 : 1, 'timeout'), opts.timeout).unref();

function dump(op, args) {
  if (op === 'img') streams.set(args[0], { mime: args[3], chunks: [] });
  else if (op === 'blob' && streams.has(args[0]))
    streams.get(args[0]).chunks.push(Buffer.from(args[1], 'base64'));
  else if (op === 'end' && streams.has(args[0])) {
    const s = streams.get(args[0]);
    streams.delete(args[0]);
    const ext = s.mime.split('/')[1] || 'bin';
    fs.writeFileSync(
      `${opts.dumpDir}/img-${String(dumped++).padStart(3, '0')}.${ext}`,
      Buffer.concat(s.chunks),
    );
  }
}

sock.on('connect', () => {
  const select = encode('select', protocol);
  lines.push(`C> ${select}`);
  sock.write(select);
});
sock.on('error', (e) => finish(1, `socket error ${e.message}`));
sock.on('close', () => finish(received > 0 ? 0 : 1, 'closed by guacd'));
sock.on('data', (text) => {
  pending += text;
  let instructions;
  try {
    instructions = [...decode()];
  } catch (e) {
    finish(1, `protocol error: ${e.message}`);
    return;
  }
  for (const els of instructions) {
    const [op, ...args] = els;
    counts[op] = (counts[op] ?? 0) + 1;
    lines.push(`S> ${show(els)}`);
    if (opts.dumpDir) dump(op, args);
    if (state === 'select' && op === 'args') {
      const out = [
        encode('size', '1024', '768', '96'),
        encode('audio', 'audio/L16'),
        encode('video'),
        encode('image', 'image/png', 'image/jpeg', 'image/webp'),
        encode('timezone', 'UTC'),
        encode('connect', ...args.map((name) => (name.startsWith('VERSION_') ? name : (params[name] ?? '')))),
      ];
      for (const o of out) lines.push(`C> ${o.length > 200 ? `${o.slice(0, 200)}…` : o}`);
      sock.write(out.join(''));
      state = 'connect';
    } else if (state === 'connect' && op === 'ready') {
      state = 'stream';
      if (opts.type) {
        setTimeout(() => {
          for (const ch of opts.type.replace(/\\n/g, '\n')) {
            const keysym = ch === '\n' ? 0xff0d : ch.codePointAt(0);
            sock.write(encode('key', keysym, 1) + encode('key', keysym, 0));
          }
          lines.push(`C> (typed ${JSON.stringify(opts.type)} as key instructions)`);
        }, 1500);
      }
    } else if (op === 'sync' && opts.replySync) {
      sock.write(encode('sync', args[0]));
    } else if (op === 'error') {
      finish(1, `guacd error: ${args.join(' | ')}`);
      return;
    }
    received++;
    if (received >= opts.max) {
      finish(0, `max ${opts.max} instructions`);
      return;
    }
  }
});
