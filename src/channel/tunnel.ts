/** `tunnel` (port forward) mode: the gateway dials the configured target for every OpenConnection. */
import type net from 'node:net';
import type { Target } from '../registry/settings.ts';
import type { Opener, OpenFailure } from './channel.ts';
import { dial } from './dial.ts';

export function portForwardOpener(target: Target | undefined, connectTimeoutMs: number): Opener {
  return async (conn): Promise<net.Socket> => {
    if (!target) {
      const err: OpenFailure = new Error(
        'PortForward target host/port not configured in channel protocol state',
      );
      throw err;
    }
    return dial(target.host, target.port, connectTimeoutMs, { onread: conn.directRead() });
  };
}
