/** Port forward mode (`tunnel` without SOCKS): the gateway dials the configured target for every OpenConnection. */
import type net from 'node:net';
import type { Target } from '../config/settings.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import { dial } from './dial.ts';
import { type Opener, OpenRefused } from './opener.ts';

export function portForwardOpener(target: Target | undefined): Opener {
  return async (conn, _tail, ctx): Promise<net.Socket> => {
    if (!target) {
      throw new OpenRefused(
        CloseConnectionReason.ConnectionFailed,
        'PortForward target host/port not configured in channel protocol state',
      );
    }
    return dial(target.host, target.port, ctx.connectTimeoutMs, { onread: conn.directRead() });
  };
}
