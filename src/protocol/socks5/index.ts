/**
 * SOCKS5 for tubes, in five pure parts (no sockets, no clocks):
 * - `codec.ts`: RFC 1928/1929 numbers, `ATYP ADDR PORT`, the handshake message encoders;
 * - `handshake.ts`: the server side of the handshake as a byte state machine;
 * - `request-tail.ts`: the OpenConnection tail carrying the destination to the gateway;
 * - `udp.ts`: UDP ASSOCIATE relay records and the RFC 1928 §7 datagram header;
 * - `reply-policy.ts`: the gateway's refusal texts and the SOCKS reply each one maps to.
 */
export {
  encodeAddress,
  encodeAuthRequest,
  encodeAuthStatus,
  encodeGreeting,
  encodeMethodSelection,
  encodeNonLoopbackRefusal,
  encodeReply,
  encodeRequest,
  SOCKS5_AUTH_VERSION,
  SOCKS5_VERSION,
  Socks5AddressType,
  Socks5Command,
  Socks5Method,
  Socks5Reply,
} from './codec.ts';
export {
  SOCKS5_HANDSHAKE_TIMEOUT_MS,
  type Socks5Action,
  type Socks5Credentials,
  type Socks5HandshakeState,
  type Socks5Request,
  Socks5ServerHandshake,
  type Socks5ServerOptions,
} from './handshake.ts';
export { gatewayRefusal, type SocksRefusal, socksReplyForClose } from './reply-policy.ts';
export {
  canonicalTailHost,
  decodeOpenConnectionTail,
  encodeOpenConnectionTail,
  MAX_TAIL_HOST_BYTES,
  type Socks5OpenTail,
} from './request-tail.ts';
export {
  decodeSocks5UdpPacket,
  decodeUdpRelayDatagrams,
  encodeSocks5UdpPacket,
  encodeUdpRelayDatagram,
  MAX_UDP_RELAY_DATA,
  type Socks5UdpDatagram,
  type Socks5UdpPacket,
} from './udp.ts';
