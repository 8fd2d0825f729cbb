/** Outgoing TCP for gateways: half-open allowed, TCP_NODELAY, and a connect timeout instead of a hang. */
import net from 'node:net';

export interface DialOptions {
  family?: 4 | 6 | undefined;
  /** Read straight into caller memory (see Connection.directRead). */
  onread?: net.OnReadOpts | undefined;
}

export function dial(
  host: string,
  port: number,
  connectTimeoutMs: number,
  options: DialOptions = {},
): net.Socket {
  const socket = net.connect({
    host,
    port,
    allowHalfOpen: true,
    noDelay: true,
    ...(options.family ? { family: options.family } : {}),
    ...(options.onread ? { onread: options.onread } : {}),
  });
  if (connectTimeoutMs > 0) {
    socket.setTimeout(connectTimeoutMs, () => {
      if (socket.connecting) socket.destroy(new Error(`connect ETIMEDOUT ${host}:${port}`));
    });
    socket.once('connect', () => socket.setTimeout(0));
  }
  return socket;
}
