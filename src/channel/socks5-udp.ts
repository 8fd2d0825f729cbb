/**
 * SOCKS5 UDP ASSOCIATE through a tube (extension, docs/PROTOCOL.md). Each association is one connection
 * whose "socket" is a Duplex over a UDP socket: its readable side yields relay records for the peer, its
 * writable side takes relay records from the peer. A record never spans frames; UDP stays lossy, so a
 * datagram that cannot be relayed (too large, refused, buffer full) is dropped, never queued without bound.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { Duplex } from 'node:stream';
import {
  decodeSocks5UdpPacket,
  decodeUdpRelayDatagrams,
  encodeSocks5UdpPacket,
  encodeUdpRelayDatagram,
} from '../protocol/socks5/udp.ts';
import type { NetworkChecker } from './netcheck.ts';

/** Datagrams waiting to be read past this many bytes are dropped (the channel is congested). */
const MAX_READABLE_BYTES = 1024 * 1024;
const MAX_VERDICTS = 256;

abstract class UdpRelayStream extends Duplex {
  protected readonly udp: dgram.Socket;
  /** Largest relay record one frame may carry. */
  protected readonly maxRecord: number;
  dropped = 0;

  constructor(udp: dgram.Socket, maxRecord: number) {
    super({ allowHalfOpen: false });
    this.udp = udp;
    this.maxRecord = maxRecord;
    udp.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    udp.on('error', (err) => this.destroy(err));
  }

  protected abstract onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void;
  protected abstract onRecord(host: string, port: number, data: Uint8Array): void;

  protected pushRecord(host: string, port: number, data: Uint8Array): void {
    const record = encodeUdpRelayDatagram({ host, port, data });
    if (record.length > this.maxRecord || this.readableLength + record.length > MAX_READABLE_BYTES) {
      this.dropped++;
      return;
    }
    this.push(record);
  }

  override _read(): void {
    // Datagrams are pushed as they arrive; pausing the connection simply lets readableLength fill to its cap.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    try {
      for (const d of decodeUdpRelayDatagrams(chunk)) this.onRecord(d.host, d.port, d.data);
    } catch {
      this.dropped++; // a malformed record drops the rest of that frame, not the association
    }
    done();
  }

  override _final(done: (err?: Error | null) => void): void {
    done();
    this.destroy();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    try {
      this.udp.close();
    } catch {
      // already closed
    }
    done(err);
  }

  get address(): { address: string; port: number } {
    return this.udp.address();
  }
}

/**
 * Server side: the relay socket the local SOCKS client sends to. Accepts datagrams only from the client's IP
 * (and its announced port when not 0); the first accepted datagram fixes the client's address.
 */
export class ClientUdpRelay extends UdpRelayStream {
  readonly #clientIp: string;
  #clientPort: number;

  private constructor(udp: dgram.Socket, maxRecord: number, clientIp: string, clientPort: number) {
    super(udp, maxRecord);
    this.#clientIp = clientIp;
    this.#clientPort = clientPort;
  }

  static async open(
    bindAddress: string,
    clientIp: string,
    clientPort: number,
    maxRecord: number,
  ): Promise<ClientUdpRelay> {
    const udp = dgram.createSocket(net.isIPv6(bindAddress) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, bindAddress, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    return new ClientUdpRelay(udp, maxRecord, normalizeIp(clientIp), clientPort);
  }

  protected override onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (normalizeIp(rinfo.address) !== this.#clientIp) return;
    if (this.#clientPort !== 0 && rinfo.port !== this.#clientPort) return;
    this.#clientPort = rinfo.port;
    let packet: ReturnType<typeof decodeSocks5UdpPacket>;
    try {
      packet = decodeSocks5UdpPacket(msg);
    } catch {
      this.dropped++;
      return;
    }
    if (packet.frag !== 0) {
      this.dropped++; // RFC 1928 §7: a relay may drop fragments instead of reassembling
      return;
    }
    this.pushRecord(packet.host, packet.port, packet.data);
  }

  protected override onRecord(host: string, port: number, data: Uint8Array): void {
    if (this.#clientPort === 0) return; // the client has not sent anything yet: nowhere to deliver
    this.udp.send(encodeSocks5UdpPacket(host, port, data), this.#clientPort, this.#clientIp);
  }
}

/**
 * Gateway side: sends each record to the address the allow-list approved for its destination and relays
 * back only datagrams from addresses it has sent to on this association.
 */
export class GatewayUdpRelay extends UdpRelayStream {
  readonly #checker: NetworkChecker;
  readonly #verdicts = new Map<string, Promise<{ address: string; family: 4 | 6 } | undefined>>();
  readonly #sentTo = new Set<string>();
  #udp6: dgram.Socket | undefined;

  constructor(checker: NetworkChecker, maxRecord: number) {
    super(dgram.createSocket('udp4'), maxRecord);
    this.#checker = checker;
    this.udp.bind(0);
  }

  protected override onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!this.#sentTo.has(`${normalizeIp(rinfo.address)}|${rinfo.port}`)) return;
    this.pushRecord(normalizeIp(rinfo.address), rinfo.port, msg);
  }

  #verdict(host: string, port: number): Promise<{ address: string; family: 4 | 6 } | undefined> {
    const key = `${host}|${port}`;
    let v = this.#verdicts.get(key);
    if (!v) {
      if (this.#verdicts.size >= MAX_VERDICTS)
        this.#verdicts.delete(this.#verdicts.keys().next().value as string);
      v = this.#checker
        .resolveAllowed(host, port)
        .then((r) => (r.ok ? { address: r.address, family: r.family } : undefined));
      this.#verdicts.set(key, v);
    }
    return v;
  }

  #socket(family: 4 | 6): dgram.Socket {
    if (family === 4) return this.udp;
    if (!this.#udp6) {
      this.#udp6 = dgram.createSocket('udp6');
      this.#udp6.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
      this.#udp6.on('error', (err) => this.destroy(err));
      this.#udp6.bind(0);
    }
    return this.#udp6;
  }

  protected override onRecord(host: string, port: number, data: Uint8Array): void {
    const copy = Buffer.from(data); // the frame view is not ours to keep across the lookup
    void this.#verdict(host, port).then((v) => {
      if (!v || this.destroyed) {
        this.dropped++;
        return;
      }
      this.#sentTo.add(`${v.address}|${port}`);
      this.#socket(v.family).send(copy, port, v.address);
    });
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    try {
      this.#udp6?.close();
    } catch {
      // already closed
    }
    super._destroy(err, done);
  }
}

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}
