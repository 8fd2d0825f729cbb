#!/usr/bin/env node
// Userspace UDP impairment proxy: delay, jitter, random loss, rate cap, optional reordering, in both
// directions. For WebRTC tests on kernels without netem.
//
//   node udp-impair-proxy.mjs --listen=127.0.0.1:40000 --target=127.0.0.1:5000 \
//        [--delay=50] [--jitter=5] [--loss=1] [--rate-kbps=0] [--reorder] [--duration=120]
//        [--max-size=0] [--max-size-after=0] [--max-size-for=0]
//
// --max-size drops every datagram larger than that many bytes (a path MTU black hole), from --max-size-after
// seconds after the start on (default at once), for --max-size-for seconds (default to the end). --loss is a percentage. Jitter keeps each direction in order
// unless --reorder (werift's DTLS handshake does not survive reordered handshake records, so the default keeps
// order).
// Every client address that sends to --listen gets its own upstream socket (like a NAT mapping), so
// replies from --target come back through the proxy. For ICE: advertise the proxy's address in place of
// the target's host candidate (rewrite a=candidate in the SDP) and withhold the other side's candidates.
// --listen port 0 picks a free port; the first line printed names it. Exits after --duration seconds.
import dgram from 'node:dgram';

const arg = {};
for (const a of process.argv.slice(2)) {
  const [k, ...v] = a.replace(/^--/, '').split('=');
  arg[k] = v.length > 0 ? v.join('=') : 'true';
}
const [listenHost, listenPort] = (arg.listen ?? '127.0.0.1:40000').split(':');
const [targetHost, targetPort] = (arg.target ?? '').split(':');
if (!targetPort) {
  console.error('need --target=host:port');
  process.exit(2);
}
const delayMs = Number(arg.delay ?? 0);
const jitterMs = Number(arg.jitter ?? 0);
const lossRate = Number(arg.loss ?? 0) / 100;
const rateBytesPerSec = (Number(arg['rate-kbps'] ?? 0) * 1000) / 8;
const reorder = arg.reorder === 'true';
const maxSize = Number(arg['max-size'] ?? 0);
const maxSizeFrom = Date.now() + Number(arg['max-size-after'] ?? 0) * 1000;
const maxSizeUntil = arg['max-size-for'] ? maxSizeFrom + Number(arg['max-size-for']) * 1000 : Infinity;
const stats = { up: 0, down: 0, dropped: 0 };

/** One direction: loss, then a departure time from delay/jitter/rate; FIFO unless reordering. */
function makeLink(name) {
  let nextFree = 0;
  let lastAt = 0;
  const queue = [];
  let timer = null;
  const pump = () => {
    timer = null;
    while (queue.length > 0 && queue[0].at <= Date.now()) {
      const p = queue.shift();
      p.send(p.buf);
    }
    if (queue.length > 0) timer = setTimeout(pump, Math.max(1, queue[0].at - Date.now()));
  };
  return (buf, send) => {
    if (
      (lossRate > 0 && Math.random() < lossRate) ||
      (maxSize > 0 && buf.length > maxSize && Date.now() >= maxSizeFrom && Date.now() < maxSizeUntil)
    ) {
      stats.dropped++;
      return;
    }
    const now = Date.now();
    let at = now + delayMs + (jitterMs ? (Math.random() * 2 - 1) * jitterMs : 0);
    if (rateBytesPerSec > 0) {
      nextFree = Math.max(nextFree, now) + (buf.length / rateBytesPerSec) * 1000;
      at = Math.max(at, nextFree);
    }
    stats[name]++;
    if (reorder) {
      const wait = Math.max(0, at - now);
      if (wait === 0) send(buf);
      else setTimeout(() => send(buf), wait);
      return;
    }
    at = Math.max(at, lastAt);
    lastAt = at;
    queue.push({ at, buf, send });
    if (!timer) timer = setTimeout(pump, Math.max(0, at - now));
  };
}
const up = makeLink('up');
const down = makeLink('down');

const front = dgram.createSocket('udp4');
const sessions = new Map();
front.on('message', (msg, rinfo) => {
  const key = `${rinfo.address}:${rinfo.port}`;
  let upstream = sessions.get(key);
  if (!upstream) {
    upstream = dgram.createSocket('udp4');
    upstream.bind(0, '127.0.0.1');
    upstream.on('message', (m) => down(m, (b) => front.send(b, rinfo.port, rinfo.address)));
    sessions.set(key, upstream);
    console.log(`session ${key} -> ${targetHost}:${targetPort}`);
  }
  const u = upstream;
  up(msg, (b) => u.send(b, Number(targetPort), targetHost));
});
front.bind(Number(listenPort), listenHost, () => {
  const a = front.address();
  const rate = rateBytesPerSec ? `${(rateBytesPerSec * 8) / 1000}kbps` : 'unlimited';
  console.log(
    `udp-impair-proxy ${a.address}:${a.port} -> ${targetHost}:${targetPort} delay=${delayMs}ms ` +
      `jitter=${jitterMs}ms${reorder ? '(reordering)' : ''} loss=${lossRate * 100}% rate=${rate}`,
  );
});
const report = setInterval(() => console.log('stats', JSON.stringify(stats)), 5000);
const stop = () => {
  clearInterval(report);
  front.close();
  for (const s of sessions.values()) s.close();
  console.log('final', JSON.stringify(stats));
  process.exit(0);
};
setTimeout(stop, Number(arg.duration ?? 120) * 1000);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
