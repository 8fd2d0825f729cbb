/**
 * Socket-level tuning werift does not expose. werift's UDP sockets keep the kernel default receive buffer
 * (~208 KiB) while its SCTP window grows to 1 MiB, so bursts overflow it and every loss costs a ≥ 1 s
 * retransmission timeout (measured: thousands of retransmissions per 64 MiB). We raise the buffers on
 * the ICE sockets once they exist. Reaches into werift internals defensively: anything unexpected is skipped.
 */
import type { RTCPeerConnection } from 'werift';

export const DEFAULT_UDP_BUFFER_BYTES = 4 * 1024 * 1024;

interface MaybeDgram {
  setRecvBufferSize?(n: number): void;
  setSendBufferSize?(n: number): void;
  getRecvBufferSize?(): number;
}

/** Returns the receive buffer sizes now in force (one per socket found). */
export function tuneUdpBuffers(pc: RTCPeerConnection, bytes = DEFAULT_UDP_BUFFER_BYTES): number[] {
  const sizes: number[] = [];
  const transports = (pc as unknown as { iceTransports?: unknown[] }).iceTransports;
  if (!Array.isArray(transports)) return sizes;
  for (const t of transports) {
    const protocols = (t as { connection?: { protocols?: unknown[] } }).connection?.protocols;
    if (!Array.isArray(protocols)) continue;
    for (const p of protocols) {
      // A host candidate's own socket, or a TURN allocation's (StunOverTurnProtocol → TurnProtocol → transport).
      const socket =
        (p as { transport?: { socket?: MaybeDgram } }).transport?.socket ??
        (p as { turn?: { transport?: { socket?: MaybeDgram } } }).turn?.transport?.socket;
      if (!socket || typeof socket.setRecvBufferSize !== 'function') continue;
      try {
        socket.setRecvBufferSize(bytes);
        socket.setSendBufferSize?.(bytes);
        sizes.push(socket.getRecvBufferSize?.() ?? 0);
      } catch {
        // a socket that is not bound (yet) or already closed: nothing to tune
      }
    }
  }
  return sizes;
}
