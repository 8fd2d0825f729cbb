/**
 * ConnectAs (docs/ORIGINAL.md "ConnectAs"): tails encrypted by implementations independent of ours — Python's
 * `cryptography` (a stored vector, test/fixtures/connect-as-vector.py) and @noble/curves + @noble/hashes for
 * the key agreement and HKDF at run time — are decrypted by src/protocol/connect-as.ts; broken tails close
 * the connection with the original's text; malformed `connect_as_settings` are refused at creation.
 */
import { createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { p256 } from '@noble/curves/p256';
import { hkdf } from '@noble/hashes/hkdf';
import { sha256 } from '@noble/hashes/sha2';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionHost } from '../../src/channel/connection.ts';
import { guacdOpener } from '../../src/channel/guacd.ts';
import type { OpenRefused as OpenFailure } from '../../src/channel/opener.ts';
import { type GuacdSettings, parseSettings } from '../../src/config/settings.ts';
import { encodeFrame } from '../../src/hotpath/index.ts';
import { TubeRegistry } from '../../src/index.ts';
import { silentLogger } from '../../src/log.ts';
import {
  applyConnectAs,
  CONNECT_AS_HKDF_INFO,
  connectAsActive,
  decryptConnectAs,
  parseConnectAsSettings,
} from '../../src/protocol/connect-as.ts';
import { encodeOpenConnection } from '../../src/protocol/control.ts';
import { guacdParams } from '../../src/protocol/guacamole.ts';
import { rawGateway } from '../helpers/raw-gateway.ts';
import { LOOPBACK, waitFor } from '../helpers/tubes.ts';

const vector = JSON.parse(
  readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'connect-as-vector.json'), 'utf8'),
) as { gateway_private_key: string; tail_hex: string; aes_key_hex: string };

/** A fresh gateway key pair (node:crypto only makes the key; the encryption below is noble's). */
function gatewayKey(): { pem: string; publicKey: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x as string, 'base64url'),
    Buffer.from(jwk.y as string, 'base64url'),
  ]);
  return { pem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, publicKey: point };
}

/**
 * The client side as a Keeper client builds it: ephemeral P-256 key (noble), ECDH with the gateway's public
 * key (noble), HKDF-SHA256 with an empty salt and the original's info (noble), AES-256-GCM.
 */
function encryptTail(gatewayPublicKey: Uint8Array, payload: unknown): Buffer {
  const eph = p256.utils.randomPrivateKey();
  const ephPub = p256.getPublicKey(eph, false);
  const shared = p256.getSharedSecret(eph, gatewayPublicKey, true).subarray(1); // x coordinate
  const key = hkdf(sha256, shared, new Uint8Array(0), new TextEncoder().encode(CONNECT_AS_HKDF_INFO), 32);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  const sealed = Buffer.concat([c.update(JSON.stringify(payload), 'utf8'), c.final(), c.getAuthTag()]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(sealed.length);
  return Buffer.concat([len, ephPub, nonce, sealed]);
}

function stubHost(): ConnectionHost {
  return {
    logger: silentLogger(),
    verbose: false,
    flowHighWater: 1 << 20,
    maxPendingBytes: 1 << 24,
    forward: () => {},
    sendFrame: () => {},
    flowPause: () => {},
    flowResume: () => {},
    peerSupportsFlowControl: () => false,
    localEof: () => {},
    requestClose: () => {},
    released: () => {},
    maxDataPayload: () => 65_519,
  } as unknown as ConnectionHost;
}

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

describe('ConnectAs decryption', () => {
  it('decrypts the vector made by Python cryptography (ECDH P-256 → HKDF-SHA256 → AES-256-GCM)', () => {
    const s = parseConnectAsSettings({
      allow_supply_user: true,
      gateway_private_key: vector.gateway_private_key,
    });
    expect(connectAsActive(s)).toBe(true);
    const p = decryptConnectAs(Buffer.from(vector.tail_hex, 'hex'), s?.privateKey as never);
    expect(p?.user.username).toBe('connect-as-user');
    expect(p?.user.password).toBe('pässwörd 日本');
    expect(p?.user.domain).toBeUndefined();
    expect(p?.host).toBe('127.0.0.1');
    expect(p?.port).toBe(4822);
  });

  it('decrypts tails encrypted with @noble (fresh keys), every user field mapped to its guacd parameter', () => {
    const gw = gatewayKey();
    const s = parseConnectAsSettings({
      allow_supply_user: true,
      allow_supply_host: false,
      gateway_private_key: gw.pem,
    });
    const tail = encryptTail(gw.publicKey, {
      user: {
        username: 'alice',
        password: 'pw',
        private_key: 'KEY',
        private_key_passphrase: 'pkp',
        domain: 'CORP',
        connect_database: 'db1',
        distinguished_name: 'cn=alice',
      },
      host: 'elsewhere.example',
      port: '5900',
    });
    const payload = decryptConnectAs(tail, s?.privateKey as never);
    expect(payload).toBeDefined();
    const base = guacdParams({ username: 'configured', hostname: 'h' }, 'ssh') as Map<string, string>;
    const { params, address } = applyConnectAs(payload as never, s as never, base, { host: 'g', port: 4822 });
    expect(Object.fromEntries(params)).toEqual({
      username: 'alice',
      password: 'pw',
      privatekey: 'KEY',
      passphrase: 'pkp',
      domain: 'CORP',
      connectdatabase: 'db1',
      distinguishedname: 'cn=alice',
      hostname: 'h',
      protocol: 'ssh',
    });
    expect(address).toEqual({ host: 'g', port: 4822 }); // allow_supply_host is off: the address stays
    expect(base.get('username')).toBe('configured'); // inputs untouched

    const hostOnly = parseConnectAsSettings({ allow_supply_host: true, gateway_private_key: gw.pem });
    const merged = applyConnectAs(payload as never, hostOnly as never, base, { host: 'g', port: 4822 });
    expect(merged.address).toEqual({ host: 'elsewhere.example', port: 5900 });
    expect(merged.params.get('username')).toBe('configured'); // allow_supply_user is off
  });

  it('no tail → no ConnectAs; truncated, tampered or foreign tails → the original text', () => {
    const gw = gatewayKey();
    const key = parseConnectAsSettings({ allow_supply_user: true, gateway_private_key: gw.pem })
      ?.privateKey as never;
    expect(decryptConnectAs(new Uint8Array(0), key)).toBeUndefined();
    const tail = encryptTail(gw.publicKey, { user: { username: 'bob' } });
    expect(decryptConnectAs(tail, key)?.user.username).toBe('bob');
    const prefix = /^ConnectAs decryption\/parsing failed: /;
    for (const cut of [1, 3, 4, 50, 81, tail.length - 1]) {
      expect(() => decryptConnectAs(tail.subarray(0, cut), key)).toThrow(prefix);
    }
    const tampered = Buffer.from(tail);
    tampered.writeUInt8((tampered.at(-20) as number) ^ 1, tampered.length - 20);
    expect(() => decryptConnectAs(tampered, key)).toThrow(/AES-256-GCM decryption failed/);
    const other = gatewayKey();
    expect(() => decryptConnectAs(encryptTail(other.publicKey, {}), key)).toThrow(prefix);
    const badPoint = Buffer.from(tail);
    badPoint.writeUInt8((badPoint[5] as number) ^ 0xff, 5); // not on the curve any more
    expect(() => decryptConnectAs(badPoint, key)).toThrow(prefix);
    expect(() => decryptConnectAs(encryptTail(gw.publicKey, ['not', 'an', 'object']), key)).toThrow(prefix);
    expect(() => decryptConnectAs(encryptTail(gw.publicKey, { user: { username: 5 } }), key)).toThrow(
      /user\.username: invalid type: integer `5`, expected a string/,
    );
  });

  it('inactive unless a supply flag is set and the key is configured', () => {
    const { pem } = gatewayKey();
    expect(connectAsActive(parseConnectAsSettings({ gateway_private_key: pem }))).toBe(false);
    expect(connectAsActive(parseConnectAsSettings({ allow_supply_user: true }))).toBe(false);
    expect(connectAsActive(parseConnectAsSettings(undefined))).toBe(false);
    expect(
      connectAsActive(parseConnectAsSettings({ allow_supply_host: true, gateway_private_key: pem })),
    ).toBe(true);
  });
});

describe('connect_as_settings validation', () => {
  const { pem } = gatewayKey();
  const cases: [string, unknown, RegExp][] = [
    ['a string', 'yes', /invalid type: string "yes", expected struct ConnectAsSettings/],
    ['a flag as string', { allow_supply_user: 'true' }, /invalid type: string "true", expected a boolean/],
    ['a flag as number', { allow_supply_host: 1 }, /invalid type: integer `1`, expected a boolean/],
    ['a key as number', { gateway_private_key: 7 }, /invalid type: integer `7`, expected a string/],
    ['a key that is no PEM', { allow_supply_user: true, gateway_private_key: 'nope' }, /PKCS#8 PEM/],
    [
      'an RSA key',
      {
        gateway_private_key: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
          format: 'pem',
          type: 'pkcs8',
        }),
      },
      /not a P-256/,
    ],
  ];
  it.each(cases)('%s is refused with the original prefix', (_name, value, detail) => {
    const settings = { conversationType: 'ssh', connect_as_settings: value };
    expect(() => parseSettings(settings)).toThrow(/^Failed to deserialize connect_as_settings: /);
    expect(() => parseSettings(settings)).toThrow(detail);
  });

  it('refused at tube creation (TUBES_ERR_BAD_SETTINGS), before any WebRTC work', async () => {
    await using registry = new TubeRegistry(LOOPBACK);
    await expect(
      registry.createTube({
        conversationId: 'c',
        settings: { conversationType: 'rdp', connect_as_settings: { allow_supply_user: 'x' } },
        trickleIce: true,
      }),
    ).rejects.toMatchObject({
      code: 'TUBES_ERR_BAD_SETTINGS',
      message: 'Failed to deserialize connect_as_settings: invalid type: string "x", expected a boolean',
    });
    expect(registry.activeTubeCount()).toBe(0);
    expect(
      (
        parseSettings({
          conversationType: 'rdp',
          connect_as_settings: { gateway_private_key: pem },
        }) as GuacdSettings
      ).connectAs,
    ).toMatchObject({ allowSupplyUser: false, allowSupplyHost: false });
  });
});

describe('ConnectAs in the guacd opener', () => {
  it('a broken tail refuses the connection with ConnectionFailed and the original text; no guacd dial', async () => {
    let dialed = 0;
    const server = net.createServer((s) => {
      dialed++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const gw = gatewayKey();
    const settings = parseSettings({
      conversationType: 'ssh',
      guacd: { guacd_host: '127.0.0.1', guacd_port: (server.address() as net.AddressInfo).port },
      connect_as_settings: { allow_supply_user: true, gateway_private_key: gw.pem },
    }) as GuacdSettings;
    const open = guacdOpener(settings);
    const ctx = { logger: silentLogger() } as never;
    const err = (await open(new Connection(1, stubHost()), Buffer.from([0, 0, 0, 9, 4]), ctx).catch(
      (e: OpenFailure) => e,
    )) as OpenFailure;
    expect(err.closeReason).toBe(10);
    expect(err.message).toMatch(/^ConnectAs decryption\/parsing failed: truncated payload/);
    expect(dialed).toBe(0);
  });

  it('through a real gateway tube: a truncated tail → CloseConnection(conn, 10, "ConnectAs decryption/parsing failed: …")', async () => {
    const gw = gatewayKey();
    const g = await rawGateway({
      settings: {
        conversationType: 'ssh',
        guacd: { guacd_host: '127.0.0.1', guacd_port: 1 },
        connect_as_settings: { allow_supply_user: true, gateway_private_key: gw.pem },
      },
    });
    closers.push(() => g.close());
    const tail = encryptTail(gw.publicKey, { user: { username: 'x' } });
    g.send(encodeFrame(0, encodeOpenConnection(3, tail.subarray(0, tail.length - 5))));
    await waitFor(() => g.controls().some((c) => c.type === 'close' && c.connNo === 3), 10_000, 'close of 3');
    const close = g.controls().find((c) => c.type === 'close' && c.connNo === 3);
    expect(close).toMatchObject({ reason: 10 });
    expect((close as { message: string }).message).toMatch(
      /^ConnectAs decryption\/parsing failed: truncated payload: \d+ ciphertext bytes, payload_len says \d+$/,
    );
  });
});
