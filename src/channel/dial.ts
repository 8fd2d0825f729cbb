/** Outgoing TCP for gateways: half-open allowed, TCP_NODELAY, and a connect timeout instead of a hang. */
import net from 'node:net';

export function dial(host: string, port: number, connectTimeoutMs: number, family?: 4 | 6): net.Socket {
  const socket = net.connect({
    host,
    port,
    allowHalfOpen: true,
    noDelay: true,
    ...(family ? { family } : {}),
  });
  if (connectTimeoutMs > 0) {
    socket.setTimeout(connectTimeoutMs, () => {
      if (socket.connecting) socket.destroy(new Error(`connect ETIMEDOUT ${host}:${port}`));
    });
    socket.once('connect', () => socket.setTimeout(0));
  }
  return socket;
}
