/** `tunnel` (port forward) mode: the gateway dials the configured target for every OpenConnection. */
import net from 'node:net';
import type { Target } from '../registry/settings.ts';
import type { Opener, OpenFailure } from './channel.ts';

export function portForwardOpener(target: Target | undefined): Opener {
  return async (): Promise<net.Socket> => {
    if (!target) {
      const err: OpenFailure = new Error(
        'PortForward target host/port not configured in channel protocol state',
      );
      throw err;
    }
    return net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
  };
}
