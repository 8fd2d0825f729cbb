/**
 * ConnectAs against the REAL guacd 1.3.0 (scripts/peers): a raw peer opens a telnet session whose login user
 * and password travel only in the encrypted OpenConnection tail. The gateway must hand them to guacd (seen in
 * the `connect` arguments through a recording tap, the configured username gone), and guacd must log in with
 * them: it types them at the telnet server's `login:` and `Password:` prompts, which the server records.
 */
import { createCipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import net from 'node:net';
import { p256 } from '@noble/curves/p256';
import { hkdf } from '@noble/hashes/hkdf';
import { sha256 } from '@noble/hashes/sha2';
import { describe, expect, it } from 'vitest';
import { encodeFrame, GuacamoleScanner } from '../../src/hotpath/index.ts';
import { CONNECT_AS_HKDF_INFO } from '../../src/protocol/connect-as.ts';
import { encodeOpenConnection } from '../../src/protocol/control.ts';
import { guacdTap, useCleanups, usePeers } from '../helpers/guacd.ts';
import { requireTools } from '../helpers/peers.ts';
import { rawGateway } from '../helpers/raw-gateway.ts';
import { waitFor } from '../helpers/tubes.ts';

const skip = requireTools(['guacd']);

function encryptTail(gatewayPublicKey: Uint8Array, payload: unknown): Buffer {
  const eph = p256.utils.randomPrivateKey();
  const shared = p256.getSharedSecret(eph, gatewayPublicKey, true).subarray(1);
  const key = hkdf(sha256, shared, new Uint8Array(0), new TextEncoder().encode(CONNECT_AS_HKDF_INFO), 32);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  const sealed = Buffer.concat([c.update(JSON.stringify(payload), 'utf8'), c.final(), c.getAuthTag()]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(sealed.length);
  return Buffer.concat([len, p256.getPublicKey(eph, false), nonce, sealed]);
}

/**
 * A telnet server that only asks `login:` then `Password:` and records the lines it gets (telnet option
 * negotiation from guacd is skipped: IAC sequences are dropped). guacd 1.3 answers these prompts itself with
 * its `username`/`password` parameters (its username-regex / password-regex), before any user input.
 */
async function loginServer(): Promise<{ port: number; lines: string[]; close(): Promise<void> }> {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    let pending = Buffer.alloc(0);
    // Text of a line not ended yet: guacd may write the typed name and its line end in separate segments.
    let partial = '';
    s.write('login: ');
    s.on('data', (d: Buffer) => {
      const kept: number[] = [];
      const all = Buffer.concat([pending, d]);
      let i = 0;
      for (; i < all.length; i++) {
        const c = all[i] as number;
        if (c !== 0xff) {
          kept.push(c);
          continue;
        }
        const cmd = all[i + 1];
        if (cmd === undefined) break;
        if (cmd >= 251 && cmd <= 254)
          i += 2; // WILL/WONT/DO/DONT <option>
        else if (cmd === 250) {
          const se = all.indexOf(Buffer.from([0xff, 0xf0]), i);
          if (se < 0) break;
          i = se + 1;
        } else i += 1;
      }
      pending = all.subarray(i);
      let text = partial + Buffer.from(kept).toString('utf8');
      for (;;) {
        const nl = text.search(/[\r\n]/);
        if (nl < 0) break;
        const line = text.slice(0, nl);
        text = text.slice(nl + 1).replace(/^[\n\0]/, '');
        if (line === '') continue;
        lines.push(line);
        s.write(lines.length === 1 ? '\r\nPassword: ' : '\r\n$ ');
      }
      partial = text;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    lines,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe.skipIf(skip)('ConnectAs with the real guacd 1.3.0 (telnet)', () => {
  const peers = usePeers(['guacd']);
  const later = useCleanups();

  it('the login user comes from the encrypted tail: guacd gets it in connect and types it at login:', async () => {
    const t = await guacdTap(peers.port('guacd'));
    later(() => t.close());
    const login = await loginServer();
    later(() => login.close());
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const gatewayPub = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x as string, 'base64url'),
      Buffer.from(jwk.y as string, 'base64url'),
    ]);
    const g = await rawGateway({
      settings: {
        conversationType: 'telnet',
        guacd: { guacd_host: '127.0.0.1', guacd_port: t.port },
        guacd_params: { hostname: '127.0.0.1', port: login.port, username: 'configured-user' },
        connect_as_settings: {
          allow_supply_user: true,
          gateway_private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }),
        },
      },
    });
    later(() => g.close());
    const user = 'connectasuser';
    const password = 'pässwörd-from-tail';
    const tail = encryptTail(gatewayPub, { user: { username: user, password } });
    g.send(encodeFrame(0, encodeOpenConnection(1, tail)));
    await waitFor(() => g.controls().some((c) => c.type === 'opened' && c.connNo === 1), 10_000, 'opened');

    // guacd's args name `username`; the value at that position in connect is the tail's user
    const toGuacd = Buffer.concat(t.sessions.flatMap((x) => x.toGuacd)).toString('utf8');
    const scanner = new GuacamoleScanner({ strict: true });
    const b = scanner.push(Buffer.from(toGuacd));
    const connect = [...Array(b.count).keys()].find((i) => b.opcode(i) === 'connect');
    expect(connect).toBeDefined();
    expect(b.args(connect as number)).toContain(user);
    expect(toGuacd).not.toContain('configured-user');

    // guacd types the user (and password) at the telnet login prompts: what the telnet server reads
    await waitFor(() => login.lines.length >= 2, 30_000, 'login and password typed by guacd');
    expect(login.lines).toEqual([user, password]);
  }, 45_000);
});
