/**
 * Structural views of the werift 0.25.2 internals the patches touch, and the checks that verify them on a
 * live RTCPeerConnection before anything is changed. Nothing here imports werift's internals (they are not
 * exported); the objects are reached through the public RTCPeerConnection instance.
 */
import type { KeyObject } from 'node:crypto';
import type { RTCPeerConnection } from 'werift';

/** werift's `Event` (`execute(...args)` calls the subscribers). */
export interface WeriftEvent {
  execute(...args: unknown[]): void;
  subscribe(fn: (...args: unknown[]) => void): { unSubscribe(): void };
}

/** `AEADCipher` (dtls/src/cipher/suites/aead.ts). */
export interface AeadCipherShape {
  blockAlgorithm: string;
  keyLength: number;
  nonceImplicitLength: number;
  nonceExplicitLength: number;
  authTagLength: number;
  clientWriteKey: Buffer | KeyObject | undefined;
  serverWriteKey: Buffer | KeyObject | undefined;
  clientNonce: Buffer | undefined;
  serverNonce: Buffer | undefined;
  encrypt(type: number, data: Buffer, header: unknown): Buffer;
  decrypt(type: number, data: Buffer, header: unknown): Buffer;
}

/** `CipherContext` (dtls/src/context/cipher.ts). */
export interface CipherContextShape {
  sessionType: number;
  cipher: AeadCipherShape | undefined;
  encryptPacket(pkt: unknown): unknown;
  decryptPacket(pkt: unknown): Buffer;
}

/** `DtlsContext` (dtls/src/context/dtls.ts). */
export interface DtlsContextShape {
  version: { major: number; minor: number };
  epoch: number;
  recordSequenceNumber: number;
}

/** `DtlsSocket` (dtls/src/socket.ts), base of DtlsClient / DtlsServer. */
export interface DtlsSocketShape {
  connected: boolean;
  sessionType: number;
  dtls: DtlsContextShape;
  cipher: CipherContextShape;
  transport: { socket: { onData: (data: Buffer) => void }; send(buf: Buffer, addr?: unknown): Promise<void> };
  onData: WeriftEvent;
  send: (buf: Buffer, addr?: unknown) => Promise<void>;
  udpOnMessage: (data: Buffer) => void;
}

/** `RTCDtlsTransport` (webrtc/src/transport/dtls.ts). */
export interface DtlsTransportShape {
  state: string;
  dtls: DtlsSocketShape | undefined;
}

/** `InboundStream` (sctp/src/sctp.ts). */
export interface InboundStreamShape {
  reassembly: { tsn: number }[];
  addChunk(chunk: unknown): void;
  popMessages(): Iterable<[number, number, Buffer]>;
}

/** `SCTP` association (sctp/src/sctp.ts). */
export interface SctpShape {
  isStopped: boolean;
  sackNeeded: boolean;
  sackImmediate: boolean;
  sackHasNewDataInPacket: boolean;
  sackPacketCount: number;
  sackMisOrdered: Set<number>;
  sackTimeout: ReturnType<typeof setTimeout> | undefined;
  advertisedRwnd: number;
  handleData(data: Buffer): Promise<void>;
  receiveDataChunk(chunk: { tsn: number; streamId: number; flags: number; userData: Buffer }): void;
  scheduleSack(): Promise<void>;
  sendSack(): Promise<void>;
  markReceived(tsn: number): boolean;
  getInboundStream(streamId: number): InboundStreamShape;
  receive(streamId: number, ppId: number, data: Buffer): void;
}

export function dtlsTransportsOf(pc: RTCPeerConnection): DtlsTransportShape[] {
  const list = (pc as unknown as { dtlsTransports?: unknown }).dtlsTransports;
  return Array.isArray(list) ? (list as DtlsTransportShape[]) : [];
}

export function sctpOf(pc: RTCPeerConnection): SctpShape | undefined {
  const t = (pc as unknown as { sctpTransport?: { sctp?: SctpShape } }).sctpTransport;
  return t?.sctp;
}

// ---- shape checks: each returns the list of mismatches (empty = the shape is as expected) ----------------

type Problems = string[];

/** `obj[name]` must be a function of exactly `arity` declared parameters. */
export function expectFunction(
  problems: Problems,
  obj: unknown,
  where: string,
  name: string,
  arity: number,
): void {
  const fn = obj === null || obj === undefined ? undefined : (obj as Record<string, unknown>)[name];
  if (typeof fn !== 'function') problems.push(`${where}.${name} is not a function`);
  else if (fn.length !== arity)
    problems.push(`${where}.${name} takes ${fn.length} parameters, expected ${arity}`);
}

export function expectType(
  problems: Problems,
  obj: unknown,
  where: string,
  name: string,
  type: string,
): void {
  const v = obj === null || obj === undefined ? undefined : (obj as Record<string, unknown>)[name];
  if (typeof v !== type) problems.push(`${where}.${name} is ${typeof v}, expected ${type}`);
}

export function ownFunction(obj: object, name: string): boolean {
  return typeof Object.getOwnPropertyDescriptor(obj, name)?.value === 'function';
}
