/**
 * guacd mode, unit level: the handshake against a fake guacd on 127.0.0.1:0 (the original's
 * guacd_handshake_tests cases), parameter rules, and the guacd → client relay framing with a recording sink.
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionHost } from '../../src/channel/connection.ts';
import {
  GUACD_BATCH_BYTES,
  GUACD_LARGE_INSTRUCTION_BYTES,
  GuacdRelay,
  type GuacdRelaySink,
  guacdHandshake,
  guacdOpener,
} from '../../src/channel/guacd.ts';
import type { OpenContext, Opened, OpenRefused } from '../../src/channel/opener.ts';
import { type GuacdSettings, parseSettings } from '../../src/config/settings.ts';
import { encodeInstruction, GuacamoleScanner } from '../../src/hotpath/index.ts';
import { silentLogger } from '../../src/log.ts';
import {
  afterArgsInstructions,
  closingInstructions,
  connectArgs,
  guacdParams,
  guacdParamValue,
  normalizeGuacdParamName,
  parseMimetypes,
  planGuacdHandshake,
} from '../../src/protocol/guacamole.ts';
import { ENGINES } from '../helpers/hotpath.ts';
import { scaled, waitFor } from '../helpers/time.ts';

const enc = encodeInstruction;
const UTF8_TEXT = 'Grüße 日本語 😀';

// ---- a scripted fake guacd --------------------------------------------------------------------------

interface FakeGuacd {
  port: number;
  /** Everything received on the latest connection. */
  received(): string;
  /** The latest connection (guacd's side). */
  socket(): net.Socket | undefined;
  /** Resolves when the latest connection received `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type Script = (socket: net.Socket, received: string) => void;

/** `makeScript()` is called per connection; the script runs on every chunk the gateway sends. */
async function fakeGuacd(makeScript: () => Script): Promise<FakeGuacd> {
  const sockets = new Set<net.Socket>();
  let latest = '';
  let latestSocket: net.Socket | undefined;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    latestSocket = socket;
    latest = '';
    const script = makeScript();
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (d: Buffer) => {
      latest += d.toString('utf8');
      script(socket, latest);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => latest,
    socket: () => latestSocket,
    waitFor: async (text, timeoutMs = 3000) => {
      const until = Date.now() + timeoutMs;
      while (!latest.includes(text)) {
        if (Date.now() > until) throw new Error(`fake guacd never received ${JSON.stringify(text)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A fake guacd that answers `select` with `argsReply` and `connect` with `readyReply`. */
function scripted(argsReply: string, readyReply: string): () => Script {
  return () => {
    let state = 0;
    return (socket: net.Socket, received: string) => {
      if (state === 0 && received.includes('6.select,')) {
        state = 1;
        if (argsReply) socket.write(argsReply);
      }
      if (state === 1 && received.includes('7.connect,')) {
        state = 2;
        if (readyReply) socket.write(readyReply);
      }
    };
  };
}

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function handshakeWith(
  params: Record<string, unknown>,
  argsReply: string,
  readyReply: string,
  conversationType = 'rdp',
  timeoutMs = 2000,
): Promise<{
  result: Promise<Awaited<ReturnType<typeof guacdHandshake>>>;
  guacd: FakeGuacd;
  socket: net.Socket;
}> {
  const guacd = await fakeGuacd(scripted(argsReply, readyReply));
  closers.push(() => guacd.close());
  const socket = net.connect({ host: '127.0.0.1', port: guacd.port });
  closers.push(() => void socket.destroy());
  const plan = planGuacdHandshake(guacdParams(params, conversationType) as Map<string, string>);
  const result = guacdHandshake(socket, plan, { timeoutMs });
  result.catch(() => {});
  return { result, guacd, socket };
}

/** parseSettings for a Guacamole conversation type (any other mode fails the test). */
function guacdSettings(raw: Record<string, unknown>): GuacdSettings {
  const s = parseSettings(raw);
  if (s.mode !== 'guacd') throw new Error(`expected guacd mode, got ${s.mode}`);
  return s;
}

async function rejection(p: Promise<unknown>): Promise<OpenRefused> {
  try {
    await p;
  } catch (err) {
    return err as OpenRefused;
  }
  throw new Error('expected a rejection');
}

// ---- parameters ---------------------------------------------------------------------------------------

describe('guacd parameters', () => {
  it('normalises names: lowercase, without - and _', () => {
    expect(normalizeGuacdParamName('Read-Only')).toBe('readonly');
    expect(normalizeGuacdParamName('enable_sftp')).toBe('enablesftp');
    expect(normalizeGuacdParamName('ignore-CERT')).toBe('ignorecert');
  });

  it('converts values: strings as is, bool/number stringified, arrays joined, objects JSON, null dropped', () => {
    expect(guacdParamValue('x y')).toBe('x y');
    expect(guacdParamValue(true)).toBe('true');
    expect(guacdParamValue(false)).toBe('false');
    expect(guacdParamValue(3389)).toBe('3389');
    expect(guacdParamValue(1.5)).toBe('1.5');
    expect(guacdParamValue(['image/png', 'image/jpeg'])).toBe('image/png,image/jpeg');
    expect(guacdParamValue([1, true, 'a'])).toBe('1,true,a');
    expect(guacdParamValue({ a: 1, b: [2] })).toBe('{"a":1,"b":[2]}');
    expect(guacdParamValue(null)).toBeUndefined();
    expect(guacdParamValue(undefined)).toBeUndefined();
    const p = guacdParams({ hostname: 'h', 'Ignore-Cert': true, gone: null, protocol: 'ssh' }, 'rdp');
    expect(p && Object.fromEntries(p)).toEqual({ hostname: 'h', ignorecert: 'true', protocol: 'rdp' });
  });

  it('overwrites protocol with the conversation type (postgresql → postgres)', () => {
    expect(guacdParams({}, 'postgresql')?.get('protocol')).toBe('postgres');
    expect(guacdParams({ protocol: 'vnc' }, 'sql-server')?.get('protocol')).toBe('sql-server');
    expect(guacdParams(undefined, 'vnc')?.get('protocol')).toBe('vnc');
    expect(guacdParams('nope', 'vnc')).toBeUndefined();
    expect(
      guacdSettings({ conversationType: 'postgres', guacd_params: {} }).guacdParams?.get('protocol'),
    ).toBe('postgres');
    expect(() => guacdSettings({ conversationType: 'vnc', guacd_params: [1] })).toThrow(
      'guacd_params must be an object',
    );
  });

  it('exposes the guacd address in parsed settings', () => {
    const s = guacdSettings({
      conversationType: 'ssh',
      guacd: { guacd_host: ' 127.0.0.1 ', guacd_port: '4822' },
      guacd_params: { hostname: 'h' },
    });
    expect(s.mode).toBe('guacd');
    expect(s.guacd).toEqual({ host: '127.0.0.1', port: 4822 });
    expect(s.guacdParams?.get('hostname')).toBe('h');
  });

  it('splits an RDP DOMAIN\\user, keeps AzureAD names and sets security=aad', () => {
    const plan = (username: string, protocol = 'rdp') =>
      planGuacdHandshake(guacdParams({ username }, protocol) as Map<string, string>).params;
    expect(plan('CORP\\alice').get('domain')).toBe('CORP');
    expect(plan('CORP\\alice').get('username')).toBe('alice');
    expect(plan('AzureAD\\bob@x.onmicrosoft.com').get('security')).toBe('aad');
    expect(plan('AzureAD\\bob@x.onmicrosoft.com').get('username')).toBe('AzureAD\\bob@x.onmicrosoft.com');
    expect(plan('.\\AzureAD\\bob').get('security')).toBe('aad');
    expect(plan('.\\AzureAD\\bob').has('domain')).toBe(false);
    expect(plan('plain').has('domain')).toBe(false);
    expect(plan('CORP\\alice', 'ssh').get('username')).toBe('CORP\\alice');
  });

  it('plans size (split on ,), mimetypes (JSON array or comma list), timezone, defaults', () => {
    const p = planGuacdHandshake(
      guacdParams(
        {
          width: '1920',
          height: 1080,
          dpi: 120,
          audio: '["audio/L16","audio/L8"]',
          video: '',
          image: 'image/png,,image/jpeg',
          timezone: 'Europe/Berlin',
        },
        'vnc',
      ) as Map<string, string>,
    );
    expect(p.size).toEqual(['1920', '1080', '120']);
    expect(p.audio).toEqual(['audio/L16', 'audio/L8']);
    expect(p.video).toEqual([]);
    expect(p.image).toEqual(['image/png', 'image/jpeg']);
    expect(p.timezone).toBe('Europe/Berlin');
    const d = planGuacdHandshake(guacdParams({}, 'vnc') as Map<string, string>);
    expect(d.size).toEqual(['1024', '768', '96']);
    expect(d.timezone).toBeUndefined();
    expect(parseMimetypes('[1,2]')).toEqual(['[1', '2]']);
    expect(afterArgsInstructions(p, ['VERSION_1_3_0'])).toBe(
      '4.size,4.1920,4.1080,3.120;5.audio,9.audio/L16,8.audio/L8;5.video;5.image,9.image/png,10.image/jpeg;' +
        '8.timezone,13.Europe/Berlin;7.connect,13.VERSION_1_3_0;',
    );
  });

  it('looks connect arguments up normalised; version first; missing → ""', () => {
    const plan = planGuacdHandshake(
      guacdParams({ Host_Name: 'h', 'ignore-cert': true, color_depth: 24 }, 'rdp') as Map<string, string>,
    );
    expect(
      connectArgs(plan, ['VERSION_1_3_0', 'hostname', 'ignore-cert', 'color-depth', 'nope', 'width']),
    ).toEqual(['VERSION_1_3_0', 'h', 'true', '24', '', '1024']);
    expect(connectArgs(plan, [])).toEqual(['VERSION_1_5_0']);
  });

  it('log + disconnect texts', () => {
    expect(closingInstructions(0)).toBe('3.log,26.connection closed normally;10.disconnect;');
  });
});

// ---- handshake against a fake guacd -------------------------------------------------------------------

describe('guacd handshake (fake guacd)', () => {
  it('full rdp handshake: select, args → size/audio/video/image → connect → ready', async () => {
    const { result, guacd } = await handshakeWith(
      { hostname: 'testserver', port: 3389 },
      enc('args', 'VERSION_1_5_0', 'hostname', 'port', 'username', 'password', 'domain'),
      enc('ready', '$abc-123'),
    );
    const r = await result;
    expect(r.version).toBe('VERSION_1_5_0');
    expect(r.connectionId).toBe('$abc-123');
    expect(guacd.received()).toBe(
      '6.select,3.rdp;4.size,4.1024,3.768,2.96;5.audio;5.video;5.image;' +
        '7.connect,13.VERSION_1_5_0,10.testserver,4.3389,0.,0.,0.;',
    );
  });

  it('echoes the version guacd announces (VERSION_1_3_0)', async () => {
    const { result, guacd } = await handshakeWith(
      { hostname: 'h' },
      enc('args', 'VERSION_1_3_0', 'hostname'),
      enc('ready', 'x'),
      'vnc',
    );
    expect((await result).version).toBe('VERSION_1_3_0');
    expect(guacd.received()).toContain('7.connect,13.VERSION_1_3_0,1.h;');
  });

  it('join read-only: select <id>, no size/audio/video/image, read-only → "true"', async () => {
    const { result, guacd } = await handshakeWith(
      { connectionid: '$sess-1', readonly: 'TRUE', hostname: 'ignored' },
      enc('args', 'VERSION_1_5_0', 'param-a', 'read-only', 'param-b'),
      enc('ready', '$sess-1'),
    );
    await result;
    expect(guacd.received()).toBe('6.select,7.$sess-1;7.connect,13.VERSION_1_5_0,0.,4.true,0.;');
  });

  it('join not read-only: every argument empty', async () => {
    for (const readonly of [false, 'false', undefined]) {
      const { result, guacd } = await handshakeWith(
        { connectionid: '$sess-2', readonly, hostname: 'ignored' },
        enc('args', 'VERSION_1_5_0', 'param-a', 'read-only', 'param-b'),
        enc('ready', '$sess-2'),
      );
      await result;
      expect(guacd.received()).toBe('6.select,7.$sess-2;7.connect,13.VERSION_1_5_0,0.,0.,0.;');
    }
  });

  it('sends timezone when set, after image and before connect', async () => {
    const { result, guacd } = await handshakeWith(
      { timezone: 'UTC' },
      enc('args', 'VERSION_1_3_0', 'timezone'),
      enc('ready', 'x'),
      'ssh',
    );
    await result;
    expect(guacd.received()).toBe(
      '6.select,3.ssh;4.size,4.1024,3.768,2.96;5.audio;5.video;5.image;8.timezone,3.UTC;' +
        '7.connect,13.VERSION_1_3_0,3.UTC;',
    );
  });

  it('wrong opcode instead of args', async () => {
    const { result } = await handshakeWith({}, enc('unexpected_opcode', 'a', 'b'), '');
    const err = await rejection(result);
    expect(err.closeReason).toBe(14);
    expect(err.message).toContain("Expected Guacd opcode 'args'");
    expect(err.message).toContain("got 'unexpected_opcode'");
    expect(err.message).toBe(`Expected Guacd opcode 'args', got 'unexpected_opcode' with args ["a", "b"]`);
  });

  it('wrong opcode instead of ready', async () => {
    const { result } = await handshakeWith({}, enc('args', 'VERSION_1_5_0'), enc('not_ready'));
    const err = await rejection(result);
    expect(err.closeReason).toBe(14);
    expect(err.message).toContain("Expected Guacd opcode 'ready',");
    expect(err.message).toContain("got 'not_ready'");
  });

  it('error during the handshake and EOF during the handshake', async () => {
    const a = await handshakeWith({}, enc('error', 'Bad protocol', '768'), '');
    const e1 = await rejection(a.result);
    expect(e1.closeReason).toBe(14);
    expect(e1.message).toBe(
      `Guacd sent error 'error' (["Bad protocol", "768"]) during handshake (expected 'args')`,
    );
    const guacd = await fakeGuacd(() => (s) => s.end('4.args,13.VERS'));
    closers.push(() => guacd.close());
    const socket = net.connect({ host: '127.0.0.1', port: guacd.port });
    const e2 = await rejection(guacdHandshake(socket, planGuacdHandshake(guacdParams({}, 'vnc')!)));
    expect(e2.message).toBe(
      "EOF during Guacd handshake while waiting for 'args' (incomplete data in buffer)",
    );
    expect(socket.destroyed).toBe(true);
  });

  it('a malformed instruction during the handshake is a GuacdError', async () => {
    const { result } = await handshakeWith({}, '4.args,x;', '');
    const err = await rejection(result);
    expect(err.closeReason).toBe(14);
    expect(err.message).toMatch(/^Error peeking Guacd instruction while expecting 'args': Malformed/);
  });

  it('times out waiting for args, and waiting for ready (100 ms)', async () => {
    for (const [args, what] of [
      ['', 'args'],
      [enc('args', 'VERSION_1_5_0'), 'ready'],
    ] as const) {
      const t0 = Date.now();
      const { result, socket } = await handshakeWith({}, args, '', 'rdp', 100);
      const err = await rejection(result);
      expect(err.closeReason, what).toBe(14);
      expect(err.message).toBe('Guacd handshake timed out');
      expect(Date.now() - t0).toBeLessThan(scaled(1000));
      expect(socket.destroyed).toBe(true);
    }
  });

  it('a refused TCP connect is ConnectionFailed (10)', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const socket = net.connect({ host: '127.0.0.1', port });
    const err = await rejection(
      guacdHandshake(socket, planGuacdHandshake(guacdParams({}, 'vnc')!), { address: `127.0.0.1:${port}` }),
    );
    expect(err.closeReason).toBe(10);
    expect(err.message).toMatch(/^Failed to connect to Guacd 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('UTF-8 parameters are length-prefixed in code points; split UTF-8 from guacd is reassembled', async () => {
    const argsBytes = Buffer.from(enc('args', 'VERSION_1_5_0', 'password', 'ünïcödé-ärg'), 'utf8');
    const cut = argsBytes.indexOf(Buffer.from('ü')) + 1; // inside the two-byte ü
    let sent = false;
    const guacd = await fakeGuacd(() => (s, received) => {
      if (!sent && received.includes('6.select,')) {
        sent = true;
        s.write(argsBytes.subarray(0, cut));
        setTimeout(() => s.write(argsBytes.subarray(cut)), 30);
      }
      if (received.includes('7.connect,') && !received.includes('ready-sent')) s.write(enc('ready', 'r'));
    });
    closers.push(() => guacd.close());
    const socket = net.connect({ host: '127.0.0.1', port: guacd.port });
    closers.push(() => void socket.destroy());
    const plan = planGuacdHandshake(guacdParams({ password: UTF8_TEXT, 'ünïcödé-ärg': '€' }, 'vnc')!);
    const r = await guacdHandshake(socket, plan);
    expect(r.args).toEqual(['VERSION_1_5_0', 'password', 'ünïcödé-ärg']);
    expect([...UTF8_TEXT].length).toBe(11);
    expect(guacd.received()).toContain(`7.connect,13.VERSION_1_5_0,11.${UTF8_TEXT},1.€;`);
  });

  it('bytes after ready in the same read are put back in front of the socket, in order', async () => {
    const after = enc('size', '0', '800', '600') + enc('sync', '123');
    const partial = '3.img,1.1';
    const { result, socket } = await handshakeWith(
      {},
      enc('args', 'VERSION_1_3_0'),
      enc('ready', 'r') + after + partial,
      'vnc',
    );
    await result;
    expect(socket.isPaused()).toBe(true);
    const got: Buffer[] = [];
    socket.on('data', (d: Buffer) => got.push(d));
    socket.resume();
    const expected = Buffer.byteLength(after + partial);
    await waitFor(() => Buffer.concat(got).length >= expected, { what: 'the put-back bytes' });
    expect(Buffer.concat(got).toString('utf8')).toBe(after + partial);
  });
});

// ---- the opener (fake guacd, stub context) ------------------------------------------------------------

function stubHost(): ConnectionHost {
  return {
    logger: silentLogger(),
    verbose: false,
    flowHighWater: 1 << 20,
    maxPendingBytes: 1 << 24,
    peerSupportsFlowControl: () => false,
    forward: () => {},
    sendFrame: () => {},
    maxDataPayload: () => 65_519,
    flowPause: () => {},
    flowResume: () => {},
    localEof: () => {},
    requestClose: () => {},
    released: () => {},
  } as unknown as ConnectionHost;
}

function stubContext(): OpenContext & { ended: number; closes: [number, string | undefined][] } {
  const ctx = {
    channelId: 'c',
    logger: silentLogger(),
    ended: 0,
    closes: [] as [number, string | undefined][],
    send: () => {},
    close: (reason: number, message?: string) => void ctx.closes.push([reason, message]),
    recordChannelReason: () => {},
    endChannel: () => void ctx.ended++,
    signal: () => {},
  };
  return ctx as unknown as OpenContext & { ended: number; closes: [number, string | undefined][] };
}

describe('guacdOpener', () => {
  it('guacd ending right after ready with error + disconnect: the error is relayed whatever the split and timing', async () => {
    // guacd (VNC backend down) writes ready, error 519 and disconnect, then closes at once. The stream is
    // split in two writes at every offset; the Connection attaches at once, or only after guacd is gone.
    const fail = enc('error', 'Aborted. See logs.', '519');
    const stream = enc('ready', '$r') + fail + enc('disconnect');
    for (const attachLate of [false, true]) {
      for (let cut = 1; cut < stream.length; cut++) {
        const guacd = await fakeGuacd(() => {
          let state = 0;
          return (socket, received) => {
            if (state === 0 && received.includes('6.select,')) {
              state = 1;
              socket.write(enc('args', 'VERSION_1_3_0', 'hostname'));
            }
            if (state === 1 && received.includes('7.connect,')) {
              state = 2;
              socket.write(stream.slice(0, cut));
              setImmediate(() => socket.end(stream.slice(cut)));
            }
          };
        });
        closers.push(() => guacd.close());
        const settings = guacdSettings({
          conversationType: 'vnc',
          guacd: { guacd_host: '127.0.0.1', guacd_port: guacd.port },
        });
        const frames: string[] = [];
        const ctx = {
          ...stubContext(),
          send: (p: Uint8Array) => void frames.push(Buffer.from(p).toString()),
        };
        const conn = new Connection(1, stubHost());
        const opened = (await guacdOpener(settings)(conn, new Uint8Array(0), ctx)) as Opened;
        if (attachLate) {
          const g = guacd.socket() as net.Socket;
          if (!g.writableFinished) await new Promise((r) => g.once('finish', r));
          await new Promise((r) => setTimeout(r, 5)); // the FIN reached the gateway's socket
        }
        conn.attach(opened.socket, 0, opened.inbound);
        const until = Date.now() + 2000;
        while (ctx.closes.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
        expect({ cut, attachLate, frames, closes: ctx.closes }).toEqual({
          cut,
          attachLate,
          frames: [fail],
          closes: [[14, 'Guacd error: Aborted. See logs., 519']],
        });
        opened.socket.destroy();
        await closers.pop()?.();
      }
    }
  }, 60_000);
  it('relays what guacd sent after ready in the same read first, then the rest, as whole instructions', async () => {
    const tail = enc('img', '1', '14', '0', 'image/png', '0', '0');
    const cut = 7;
    const guacd = await fakeGuacd(
      scripted(
        enc('args', 'VERSION_1_3_0'),
        enc('ready', 'r') + enc('size', '0', '800', '600') + enc('sync', '1') + tail.slice(0, cut),
      ),
    );
    closers.push(() => guacd.close());
    const settings = guacdSettings({
      conversationType: 'vnc',
      guacd: { guacd_host: '127.0.0.1', guacd_port: guacd.port },
    });
    const frames: string[] = [];
    const signals: string[] = [];
    const ctx = { ...stubContext(), send: (p: Uint8Array) => void frames.push(Buffer.from(p).toString()) };
    ctx.signal = (_kind, data) => void signals.push(data);
    const conn = new Connection(1, stubHost());
    const opened = (await guacdOpener(settings)(conn, new Uint8Array(0), ctx)) as Opened;
    const sock = opened.socket;
    expect(frames).toEqual([]); // nothing before the channel attaches the socket
    conn.attach(sock, 0, opened.inbound);
    await waitFor(() => frames.length >= 2, { what: 'the instructions read with ready' });
    expect(frames).toEqual([enc('size', '0', '800', '600'), enc('sync', '1')]);
    expect(signals).toEqual(['4.size,1.0,3.800,3.600;']);
    guacd.socket()?.write(tail.slice(cut) + enc('sync', '2'));
    await waitFor(() => frames.length >= 4, { what: 'the rest of the img and sync 2' });
    expect(frames).toEqual([enc('size', '0', '800', '600'), enc('sync', '1'), tail, enc('sync', '2')]);
    sock.destroy();
  });

  it('a connection closed while its handshake runs stops the handshake at once (not at the timeout)', async () => {
    const silent = await fakeGuacd(() => () => {}); // accepts, never answers `select`
    closers.push(() => silent.close());
    const settings = guacdSettings({
      conversationType: 'vnc',
      guacd: { guacd_host: '127.0.0.1', guacd_port: silent.port },
    });
    const conn = new Connection(1, stubHost());
    const ctx = { ...stubContext(), abandoned: conn.openAbort.signal };
    const opening = rejection(guacdOpener(settings)(conn, new Uint8Array(0), ctx));
    await silent.waitFor('6.select,');
    const t0 = performance.now();
    conn.shutdown(); // what the channel does when the peer closes a connection that is still opening
    const err = await opening;
    expect(performance.now() - t0).toBeLessThan(scaled(1000));
    expect(err.closeReason).toBe(14);
    await waitFor(() => silent.socket()?.destroyed || silent.socket()?.readableEnded, {
      what: 'the fake guacd to see the connection end',
    });
  });

  it('not configured → ConnectionFailed with the original text', async () => {
    const open = guacdOpener(guacdSettings({ conversationType: 'vnc' }));
    const err = await rejection(open(new Connection(1, stubHost()), new Uint8Array(0), stubContext()));
    expect(err.closeReason).toBe(10);
    expect(err.message).toBe('Guacd host/port not configured or supplied via ConnectAs for OpenConnection');
  });

  it('handshake failure → GuacdError; success → socket + relay; the primary ends the channel', async () => {
    const bad = await fakeGuacd(scripted(enc('nope'), ''));
    closers.push(() => bad.close());
    const settings = (port: number) =>
      guacdSettings({ conversationType: 'vnc', guacd: { guacd_host: '127.0.0.1', guacd_port: port } });
    const e = await rejection(
      guacdOpener(settings(bad.port))(new Connection(1, stubHost()), new Uint8Array(0), stubContext()),
    );
    expect(e.closeReason).toBe(14);

    const good = await fakeGuacd(scripted(enc('args', 'VERSION_1_3_0', 'hostname'), enc('ready', 'r')));
    closers.push(() => good.close());
    const open = guacdOpener(settings(good.port));
    const ctx = stubContext();
    const conn = new Connection(1, stubHost());
    const opened = (await open(conn, new Uint8Array(0), ctx)) as Opened;
    expect(opened.inbound).toBeInstanceOf(GuacdRelay);
    conn.attach(opened.socket, 0, opened.inbound);
    const second = new Connection(2, stubHost());
    const opened2 = (await open(second, new Uint8Array(0), ctx)) as Opened;
    second.attach(opened2.socket, 0, opened2.inbound);
    // not the primary: the channel stays. The opener's close handler was added before ours, and ends the
    // channel in a microtask, so once our listener and a macrotask ran, an end would have been recorded.
    const secondClosed = once(opened2.socket, 'close');
    opened2.socket.destroy();
    await secondClosed;
    await new Promise((r) => setImmediate(r));
    expect(ctx.ended).toBe(0);
    opened.socket.destroy();
    await waitFor(() => ctx.ended > 0, { what: 'the primary to end the channel' });
    await new Promise((r) => setImmediate(r));
    expect(ctx.ended).toBe(1);
  });
});

// ---- guacd → client relay -----------------------------------------------------------------------------

interface Recorded extends GuacdRelaySink {
  frames: Buffer[];
  closes: [number, string | undefined][];
  reasons: number[];
  signals: string[];
}

function recorder(): Recorded {
  const r: Recorded = {
    frames: [],
    closes: [],
    reasons: [],
    signals: [],
    send: (p) => void r.frames.push(Buffer.from(p)),
    close: (reason, message) => void r.closes.push([reason, message]),
    recordChannelReason: (reason) => void r.reasons.push(reason),
    signal: (_kind, data) => void r.signals.push(data),
  };
  return r;
}

/** Each frame must hold only whole instructions; returns them per frame. */
function framesAsInstructions(frames: Buffer[]): string[][][] {
  return frames.map((f) => {
    const s = new GuacamoleScanner({ strict: true });
    const b = s.push(f);
    expect(b.error).toBeUndefined();
    expect(s.bufferedBytes).toBe(0);
    const out: string[][] = [];
    for (let i = 0; i < b.count; i++) out.push([b.opcode(i), ...b.args(i)]);
    return out;
  });
}

describe.each(ENGINES)('guacd relay framing (%s engine)', (engine) => {
  const blob = (n: number) => enc('blob', '1', 'A'.repeat(n));

  it('sync travels alone and flushes the batch; the rest of the read is flushed at its end', () => {
    const r = recorder();
    const relay = new GuacdRelay(r, { engine });
    relay.push(
      Buffer.from(
        enc('img', '1', '12', '0', 'image/png', '0', '0') +
          blob(100) +
          enc('sync', '1') +
          enc('end', '1') +
          enc('cursor', '0'),
      ),
    );
    const frames = framesAsInstructions(r.frames);
    expect(frames.map((f) => f.map((i) => i[0]))).toEqual([['img', 'blob'], ['sync'], ['end', 'cursor']]);
    expect(relay.instructions).toBe(5);
  });

  it('batches stay ≤ 16 KiB; an instruction ≥ 32 KiB goes alone; partial instructions wait', () => {
    const r = recorder();
    const relay = new GuacdRelay(r, { engine });
    const small = blob(6000);
    const large = blob(GUACD_LARGE_INSTRUCTION_BYTES);
    const stream = Buffer.from(small.repeat(5) + large + small + small, 'utf8');
    relay.push(stream.subarray(0, stream.length - 10));
    const before = r.frames.length;
    relay.push(stream.subarray(stream.length - 10));
    expect(r.frames.length).toBe(before + 1);
    const frames = framesAsInstructions(r.frames);
    for (const f of r.frames)
      if (f.length < GUACD_LARGE_INSTRUCTION_BYTES) expect(f.length).toBeLessThanOrEqual(GUACD_BATCH_BYTES);
    const largeFrames = r.frames.filter((f) => f.length >= GUACD_LARGE_INSTRUCTION_BYTES);
    expect(largeFrames).toHaveLength(1);
    expect(largeFrames[0]!.toString()).toBe(large);
    expect(frames.flat()).toHaveLength(8);
    expect(Buffer.concat(r.frames).equals(stream)).toBe(true);
  });

  it('a stream split at every offset is relayed identically, whole instructions per frame', () => {
    const text =
      enc('size', '0', '800', '600') +
      enc('name', UTF8_TEXT) +
      enc('sync', '42', '1') +
      enc('clipboard', '2', 'text/plain') +
      enc('blob', '2', Buffer.from(UTF8_TEXT).toString('base64')) +
      enc('argv', '3', 'text/plain', 'font-name') +
      enc('key', '65307', '1');
    const stream = Buffer.from(text, 'utf8');
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = recorder();
      const relay = new GuacdRelay(r, { engine });
      relay.push(stream.subarray(0, cut));
      relay.push(stream.subarray(cut));
      framesAsInstructions(r.frames);
      expect(Buffer.concat(r.frames).equals(stream)).toBe(true);
      expect(r.signals).toEqual(['4.size,1.0,3.800,3.600;']);
      expect(r.closes).toEqual([]);
    }
  });

  it('size is forwarded and raised as a guacd_instruction signal (re-encoded, code points)', () => {
    const r = recorder();
    const relay = new GuacdRelay(r, { engine });
    relay.push(
      Buffer.from(enc('size', '0', '1024', '768') + enc('size', '-1', '11', '16') + enc('size', '1')),
    );
    expect(r.signals).toEqual(['4.size,1.0,4.1024,3.768;', '4.size,2.-1,2.11,2.16;']);
    expect(framesAsInstructions(r.frames).flat()).toHaveLength(3);
  });

  it('error: forwarded alone, then GuacdError with the args; later output ignored', () => {
    const r = recorder();
    const relay = new GuacdRelay(r, { engine });
    relay.push(
      Buffer.from(enc('sync', '1') + enc('nop') + enc('error', 'Aborted. See logs.', '519') + enc('nop')),
    );
    relay.push(Buffer.from(enc('nop')));
    expect(framesAsInstructions(r.frames).map((f) => f.map((i) => i[0]))).toEqual([
      ['sync'],
      ['nop'],
      ['error'],
    ]);
    expect(r.reasons).toEqual([14]);
    expect(r.closes).toEqual([[14, 'Guacd error: Aborted. See logs., 519']]);
    expect(relay.end()).toBe(true);
  });

  it('disconnect: forwarded, then a Normal close "Guacd disconnect" (no GuacdError recorded)', () => {
    const r = recorder();
    const relay = new GuacdRelay(r, { engine });
    relay.push(Buffer.from(enc('disconnect')));
    expect(r.frames.map(String)).toEqual(['10.disconnect;']);
    expect(r.closes).toEqual([[0, 'Guacd disconnect']]);
    expect(r.reasons).toEqual([]);
  });

  it('malformed data or invalid UTF-8 → ProtocolError (19); what came before is still delivered', () => {
    for (const bad of [
      Buffer.from('4.sync,1.1;x.nope;'),
      Buffer.concat([Buffer.from('4.sync,1.1;4.name,2.'), Buffer.from([0xff, 0xfe, 0x3b])]),
    ]) {
      const r = recorder();
      const relay = new GuacdRelay(r, { engine });
      relay.push(bad);
      relay.push(Buffer.from(enc('nop')));
      expect(r.frames.map(String)).toEqual(['4.sync,1.1;']);
      expect(r.closes).toHaveLength(1);
      expect(r.closes[0]![0]).toBe(19);
      expect(r.closes[0]![1]).toMatch(/^Guacd protocol parsing error: /);
      expect(r.reasons).toEqual([19]);
    }
  });

  it('an over-long instruction is refused without buffering it', () => {
    const r = recorder();
    const relay = new GuacdRelay(r, { engine, maxInstructionBytes: 1024 });
    relay.push(Buffer.from('4.blob,1.1,5000.AAAA'));
    expect(r.closes[0]?.[0]).toBe(19);
  });

  it('beforeClose(Normal): log + disconnect to the client and to guacd, once; other reasons: nothing', () => {
    const written: string[] = [];
    const guacd = { writable: true, write: (s: string) => void written.push(s) };
    const r = recorder();
    const relay = new GuacdRelay(r, { engine, guacd });
    relay.beforeClose(0, true);
    relay.beforeClose(0, true);
    expect(r.frames.map(String)).toEqual(['3.log,26.connection closed normally;10.disconnect;']);
    expect(written).toEqual(['3.log,26.connection closed normally;10.disconnect;']);
    const r2 = recorder();
    const w2: string[] = [];
    const relay2 = new GuacdRelay(r2, {
      engine,
      guacd: { writable: true, write: (s: string) => void w2.push(s) },
    });
    relay2.beforeClose(0, false);
    expect(r2.frames).toEqual([]);
    expect(w2).toHaveLength(1);
    const r3 = recorder();
    const relay3 = new GuacdRelay(r3, { engine, guacd });
    relay3.beforeClose(14, true);
    expect(r3.frames).toEqual([]);
  });

  it('unexpected EOF is left to the channel (ConnectionLost)', () => {
    const relay = new GuacdRelay(recorder(), { engine });
    expect(relay.end()).toBe(false);
  });
});
