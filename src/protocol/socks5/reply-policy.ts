/**
 * SOCKS reply policy: which RFC 1928 reply the server side sends its local client when the gateway
 * answers an OpenConnection with CloseConnection(reason, text) instead of ConnectionOpened.
 *
 * Both halves live here. `gatewayRefusal` builds every refusal text a webrtc-tubes gateway writes, each
 * with the reply it is meant to produce; `socksReplyForClose` reads a (reason, text) pair back into a
 * reply. A text and its reply therefore sit side by side and cannot drift apart unnoticed:
 * test/unit/socks5-protocol.test.ts maps every `gatewayRefusal` text through `socksReplyForClose`. The rules
 * also read texts the gateway passes through unchanged (the tail decoder's errors, Node's socket errors
 * such as `connect ECONNREFUSED 127.0.0.1:1`) and the original gateway's texts.
 */
import { CloseConnectionReason } from '../close-reason.ts';
import { Socks5Reply } from './codec.ts';

/** A gateway's answer to an OpenConnection it will not carry out. */
export interface SocksRefusal {
  readonly reason: CloseConnectionReason;
  readonly message: string;
  /** What `socksReplyForClose(reason, message)` gives: the reply the server side's client receives. */
  readonly reply: Socks5Reply;
}

/** The refusals a webrtc-tubes gateway sends in socks5 mode, one constructor per text. */
export const gatewayRefusal = {
  /** The gateway's channel has no allow-list, so it does not take SOCKS destinations. */
  notSocksMode: (): SocksRefusal => ({
    reason: CloseConnectionReason.ConnectionFailed,
    message: 'SOCKS5 OpenConnection not supported in this mode',
    reply: Socks5Reply.GENERAL_FAILURE,
  }),
  /** `decodeOpenConnectionTail` threw: its message goes to the peer as it is. */
  badTail: (err: Error): SocksRefusal => ({
    reason: CloseConnectionReason.ProtocolError,
    message: err.message,
    reply: Socks5Reply.GENERAL_FAILURE,
  }),
  /** The port is outside `allowed_ports`. */
  portNotAllowed: (port: number): SocksRefusal => ({
    reason: CloseConnectionReason.ConnectionFailed,
    message: `SOCKS5 port ${port} not allowed`,
    reply: Socks5Reply.NOT_ALLOWED,
  }),
  /** The host (as the client sent it) matches no rule, or none of its addresses does. */
  destinationNotAllowed: (host: string): SocksRefusal => ({
    reason: CloseConnectionReason.ConnectionFailed,
    message: `SOCKS5 destination ${host} not allowed or unresolvable`,
    reply: Socks5Reply.NOT_ALLOWED,
  }),
  /** The resolver failed for an allowed name; `cause` is its error code or message. */
  resolutionFailed: (name: string, cause: string): SocksRefusal => ({
    reason: CloseConnectionReason.AddressResolutionFailed,
    message: `DNS lookup failed for SOCKS5 destination ${name}: ${cause}`,
    reply: Socks5Reply.HOST_UNREACHABLE,
  }),
} as const;

/**
 * Our own refusal texts, matched whole before the general rules: they embed the client's host name, which
 * must never steer the reply (a host named `forbidden.example` is still a DNS failure). One entry per
 * `gatewayRefusal` constructor that embeds client text.
 */
const OWN_TEXTS: ReadonlyArray<readonly [RegExp, Socks5Reply]> = [
  [/^SOCKS5 OpenConnection not supported in this mode$/, Socks5Reply.GENERAL_FAILURE],
  [/^SOCKS5 port \d+ not allowed$/, Socks5Reply.NOT_ALLOWED],
  [/^SOCKS5 destination [\s\S]* not allowed or unresolvable$/, Socks5Reply.NOT_ALLOWED],
  [/^DNS lookup failed for SOCKS5 destination [^:]*: /, Socks5Reply.HOST_UNREACHABLE],
];

/** Text rules, first match wins. */
const MESSAGE_RULES: ReadonlyArray<readonly [RegExp, Socks5Reply]> = [
  [/OpenConnection not supported in this mode/i, Socks5Reply.GENERAL_FAILURE],
  [/not allowed|forbidden|denied by rule/i, Socks5Reply.NOT_ALLOWED],
  [/command not supported|unsupported (socks5? )?command/i, Socks5Reply.COMMAND_NOT_SUPPORTED],
  [/address type/i, Socks5Reply.ADDRESS_TYPE_NOT_SUPPORTED],
  [/ENETUNREACH|network (is )?unreachable/i, Socks5Reply.NETWORK_UNREACHABLE],
  [
    /EHOSTUNREACH|EHOSTDOWN|host (is )?unreachable|ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_NODATA|EAI_FAIL|getaddrinfo|\bDNS\b|unresolvable|resolution failed/i,
    Socks5Reply.HOST_UNREACHABLE,
  ],
  [/ECONNREFUSED|refused/i, Socks5Reply.CONNECTION_REFUSED],
  [/ETIMEDOUT|timed out|timeout|\bTTL\b/i, Socks5Reply.TTL_EXPIRED],
];

/** Reason rules, for a close whose text says nothing. */
const REASON_REPLIES: ReadonlyMap<number, Socks5Reply> = new Map([
  [CloseConnectionReason.Timeout, Socks5Reply.TTL_EXPIRED],
  [CloseConnectionReason.ServerRefuse, Socks5Reply.CONNECTION_REFUSED],
  [CloseConnectionReason.AddressResolutionFailed, Socks5Reply.HOST_UNREACHABLE],
  [CloseConnectionReason.SecurityThreat, Socks5Reply.NOT_ALLOWED],
]);

/**
 * The SOCKS5 reply to send to the local client when the gateway answers an OpenConnection with
 * CloseConnection(reason, message). The message is the more specific signal (the Rust gateway sends
 * reason 10 for every failed open), so it is consulted first; then the reason; otherwise 0x01.
 */
export function socksReplyForClose(reason: number | undefined, message?: string): Socks5Reply {
  if (message) {
    for (const [pattern, reply] of OWN_TEXTS) if (pattern.test(message)) return reply;
    for (const [pattern, reply] of MESSAGE_RULES) if (pattern.test(message)) return reply;
  }
  return (reason === undefined ? undefined : REASON_REPLIES.get(reason)) ?? Socks5Reply.GENERAL_FAILURE;
}
