/**
 * SOCKS5 UDP ASSOCIATE datagrams: the relay records a tube carries (a webrtc-tubes extension,
 * docs/PROTOCOL.md, "SOCKS5 UDP ASSOCIATE") and the RFC 1928 §7 datagram header between the local SOCKS
 * client and the relay.
 *
 * A frame payload or a UDP datagram arrives whole, so both are decoded whole; the tests cut them at every
 * offset instead of feeding them in chunks.
 */
import { ErrorCode, TubesError } from '../../errors.ts';
import { decodeAddress, encodeAddress } from './codec.ts';

/** Largest UDP payload carried in one relay record (the IPv4 UDP maximum). */
export const MAX_UDP_RELAY_DATA = 65_507;

export interface Socks5UdpDatagram {
  readonly host: string;
  readonly port: number;
  readonly data: Uint8Array;
}

/**
 * One relay record: `ATYP ADDR PORT LEN(u16 BE) DATA`. Toward the gateway the address is the destination,
 * back from the gateway it is the source.
 */
export function encodeUdpRelayDatagram(d: Socks5UdpDatagram): Uint8Array {
  if (d.data.length > MAX_UDP_RELAY_DATA) {
    throw new TubesError(
      ErrorCode.BAD_ARGUMENT,
      `UDP datagram of ${d.data.length} bytes exceeds ${MAX_UDP_RELAY_DATA}`,
    );
  }
  const addr = encodeAddress(d.host, d.port);
  const out = new Uint8Array(addr.length + 2 + d.data.length);
  out.set(addr, 0);
  out[addr.length] = d.data.length >>> 8;
  out[addr.length + 1] = d.data.length & 0xff;
  out.set(d.data, addr.length + 2);
  return out;
}

/**
 * Splits one data-frame payload of a UDP association into its records (one or more, never split
 * across frames). Throws TubesError SOCKS_MALFORMED / SOCKS_UNSUPPORTED on any inconsistency; the
 * `data` views share memory with `payload`.
 */
export function decodeUdpRelayDatagrams(payload: Uint8Array): Socks5UdpDatagram[] {
  const out: Socks5UdpDatagram[] = [];
  let offset = 0;
  while (offset < payload.length) {
    const addr = decodeAddress(payload, offset);
    if (addr === null || payload.length < addr.end + 2) {
      throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'UDP relay record truncated');
    }
    const len = (payload[addr.end]! << 8) | payload[addr.end + 1]!;
    const start = addr.end + 2;
    if (len > MAX_UDP_RELAY_DATA || payload.length < start + len) {
      throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'UDP relay record truncated or too large');
    }
    out.push({ host: addr.host, port: addr.port, data: payload.subarray(start, start + len) });
    offset = start + len;
  }
  if (out.length === 0) throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'Empty UDP relay payload');
  return out;
}

/** RFC 1928 §7 datagram between the SOCKS client and the relay: `RSV(2) FRAG ATYP ADDR PORT DATA`. */
export interface Socks5UdpPacket extends Socks5UdpDatagram {
  readonly frag: number;
}

export function encodeSocks5UdpPacket(host: string, port: number, data: Uint8Array): Uint8Array {
  const addr = encodeAddress(host, port);
  const out = new Uint8Array(3 + addr.length + data.length);
  out.set(addr, 3);
  out.set(data, 3 + addr.length);
  return out;
}

/**
 * Parses a datagram a SOCKS client sent to the relay. FRAG ≠ 0 is reported, not reassembled (the
 * relay drops such datagrams, which RFC 1928 allows). Throws TubesError on malformed input.
 */
export function decodeSocks5UdpPacket(packet: Uint8Array): Socks5UdpPacket {
  if (packet.length < 4) throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'SOCKS5 UDP datagram truncated');
  if (packet[0] !== 0 || packet[1] !== 0) {
    throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'SOCKS5 UDP datagram reserved bytes are not zero');
  }
  const addr = decodeAddress(packet, 3);
  if (addr === null) throw new TubesError(ErrorCode.SOCKS_MALFORMED, 'SOCKS5 UDP datagram truncated');
  return { frag: packet[2]!, host: addr.host, port: addr.port, data: packet.subarray(addr.end) };
}
