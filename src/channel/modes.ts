/**
 * Which side does what for each channel mode (docs/ORIGINAL.md, “Roles”): the server (offerer) side accepts
 * local clients on its listener, the client (gateway) side opens connections for OpenConnection.
 */
import type { Socket } from 'node:net';
import type { ParsedSettings } from '../config/settings.ts';
import { ErrorCode, TubesError } from '../errors.ts';
import type { Channel } from './channel.ts';
import { guacdOpener } from './guacd.ts';
import type { Opener } from './opener.ts';
import { portForwardOpener } from './port-forward.ts';
import { socksAcceptor, socksOpener } from './socks5.ts';

export interface LocalAcceptor {
  /** A loopback client connected to the listener. */
  accept(socket: Socket, channel: Channel): void;
  /** A non-loopback client: answer as the original does and close. */
  refuse(socket: Socket): void;
}

export interface ChannelMode {
  /** Whether this mode runs a local listener when `local_listen_addr` is set (server side). */
  readonly listens: boolean;
  acceptor: LocalAcceptor;
  opener: Opener;
}

/** Plain forwarding: each local client becomes one connection, opened with no tail. */
export const plainAcceptor: LocalAcceptor = {
  accept: (socket, channel) => void channel.acceptLocal(socket),
  refuse: (socket) => socket.destroy(),
};

export function modeFor(settings: ParsedSettings): ChannelMode {
  switch (settings.mode) {
    case 'port-forward':
      return {
        listens: true,
        acceptor: plainAcceptor,
        opener: portForwardOpener(settings.target),
      };
    case 'socks5':
      return {
        listens: true,
        acceptor: socksAcceptor(settings),
        opener: socksOpener(settings),
      };
    case 'guacd':
      return { listens: true, acceptor: plainAcceptor, opener: guacdOpener(settings) };
    default:
      throw new TubesError(
        ErrorCode.BAD_SETTINGS,
        `conversationType ${settings.conversationType} (${settings.mode} mode) is not supported by this build yet`,
      );
  }
}
