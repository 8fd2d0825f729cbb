/**
 * guacd mode end to end against the REAL guacd 1.3.0 (scripts/peers: guacd, Xvnc + xclock, telnetd)
 * through a real tube pair: a local Guacamole client connects to the offerer's `local_listen_addr`, the
 * gateway dials guacd through a recording tap (so the test sees the handshake and what guacd receives).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeInstruction, GuacamoleScanner } from '../../src/hotpath/index.ts';
import { recordDiagnostics } from '../helpers/diag.ts';
import { type GuacdTap, guacdTap, type TapSession, useCleanups, usePeers } from '../helpers/guacd.ts';
import { requireTools } from '../helpers/peers.ts';
import { scaled } from '../helpers/time.ts';
import { connect, type TubePair, tubePair, waitFor } from '../helpers/tubes.ts';

const skip = requireTools(['guacd', 'Xvnc', 'xclock', 'socat', 'telnetd']);
const UTF8_TEXT = 'Grüße 日本語 😀';

interface Instruction {
  op: string;
  args: string[];
  at: number;
}

/** A local Guacamole client on the offerer's listener: parses everything strictly (code-point lengths). */
class GuacClient {
  readonly socket: net.Socket;
  readonly instructions: Instruction[] = [];
  readonly images: { width: number; height: number }[] = [];
  /** Every byte read, as read. */
  readonly raw: Buffer[] = [];
  parseError: string | undefined;
  closed = false;
  syncReplies = 0;
  readonly #scanner = new GuacamoleScanner({ strict: true });
  readonly #streams = new Map<string, Buffer[]>();

  constructor(socket: net.Socket, replySync: boolean) {
    this.socket = socket;
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('data', (d: Buffer) => {
      this.raw.push(d);
      const b = this.#scanner.push(d);
      for (let i = 0; i < b.count; i++) {
        const ins: Instruction = { op: b.opcode(i), args: b.args(i), at: Date.now() };
        this.instructions.push(ins);
        this.#image(ins);
        if (ins.op === 'sync' && replySync && !socket.destroyed) {
          this.send('sync', ins.args[0] ?? '0');
          this.syncReplies++;
        }
      }
      if (b.error) this.parseError ??= b.error.message;
    });
  }

  #image(ins: Instruction): void {
    const [stream] = ins.args;
    if (stream === undefined) return;
    if (ins.op === 'img' && ins.args[3] === 'image/png') this.#streams.set(stream, []);
    else if (ins.op === 'blob' && this.#streams.has(stream)) {
      this.#streams.get(stream)?.push(Buffer.from(ins.args[1] ?? '', 'base64'));
    } else if (ins.op === 'end' && this.#streams.has(stream)) {
      const png = Buffer.concat(this.#streams.get(stream) ?? []);
      this.#streams.delete(stream);
      if (png.subarray(0, 8).equals(Buffer.from('89504e470d0a1a0a', 'hex')) && png.length >= 24) {
        this.images.push({ width: png.readUInt32BE(16), height: png.readUInt32BE(20) });
      }
    }
  }

  send(op: string, ...args: string[]): void {
    this.socket.write(encodeInstruction(op, ...args));
  }

  count(op: string): number {
    return this.instructions.filter((i) => i.op === op).length;
  }

  async waitFor(pred: (i: Instruction) => boolean, timeoutMs: number, what: string): Promise<Instruction> {
    let found: Instruction | undefined;
    await waitFor(() => (found = this.instructions.find(pred)) !== undefined, timeoutMs, what);
    return found as Instruction;
  }

  /** Types text as key presses (Unicode keysyms above Latin-1; `\n` = Return). */
  type(text: string): void {
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0) as number;
      const keysym = ch === '\n' ? 0xff0d : cp <= 0xff ? cp : 0x0100_0000 + cp;
      out += encodeInstruction('key', String(keysym), '1') + encodeInstruction('key', String(keysym), '0');
    }
    this.socket.write(out);
  }

  ctrlD(): void {
    this.socket.write(
      encodeInstruction('key', '65507', '1') +
        encodeInstruction('key', '100', '1') +
        encodeInstruction('key', '100', '0') +
        encodeInstruction('key', '65507', '0'),
    );
  }
}

const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8');

/** Whole instructions of a recorded stream, `[opcode, ...args]` each (strict: a malformed stream throws). */
function instructionsOf(chunks: Buffer[]): string[][] {
  const scanner = new GuacamoleScanner({ strict: true });
  try {
    const b = scanner.push(Buffer.concat(chunks));
    if (b.error) throw b.error;
    const out: string[][] = [];
    for (let i = 0; i < b.count; i++) out.push([b.opcode(i), ...b.args(i)]);
    return out;
  } finally {
    scanner.dispose();
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip)('guacd mode end to end (real guacd 1.3.0, Xvnc, telnetd)', () => {
  const peers = usePeers(['guacd', 'xvnc', 'telnetd']);
  const later = useCleanups();

  async function session(
    conversationType: string,
    params: Record<string, unknown>,
  ): Promise<{ pair: TubePair; taps: GuacdTap }> {
    const taps = await guacdTap(peers.port('guacd'));
    later(() => taps.close());
    const pair = await tubePair({
      serverSettings: { conversationType, local_listen_addr: '127.0.0.1:0' },
      clientSettings: {
        conversationType,
        guacd: { guacd_host: '127.0.0.1', guacd_port: taps.port },
        guacd_params: params,
      },
    });
    later(() => pair.close());
    return { pair, taps };
  }

  async function client(addr: string, replySync = true): Promise<GuacClient> {
    const c = new GuacClient(await connect(addr), replySync);
    later(() => void c.socket.destroy());
    return c;
  }

  it('VNC: handshake echoes VERSION_1_3_0; size 800×600, a PNG of that size and sync within 5 s; 20 s up; closeTube < 1.5 s with disconnect to guacd', async () => {
    const { pair, taps } = await session('vnc', { hostname: '127.0.0.1', port: peers.port('xvnc') });
    const t0 = Date.now();
    const c = await client(pair.listenAddr as string);

    const firstFrame = scaled(5_000);
    const size = await c.waitFor((i) => i.op === 'size' && i.args[0] === '0', firstFrame, 'size of layer 0');
    expect(size.args).toEqual(['0', '800', '600']);
    await waitFor(
      () => c.images.some((m) => m.width === 800 && m.height === 600),
      firstFrame - (Date.now() - t0),
      'an 800×600 PNG',
    );
    await c.waitFor((i) => i.op === 'sync', firstFrame - (Date.now() - t0), 'sync');
    expect(Date.now() - t0).toBeLessThan(firstFrame);

    const tapped = taps.sessions[0] as TapSession;
    expect(text(tapped.fromGuacd)).toMatch(/^4\.args,13\.VERSION_1_3_0,/);
    expect(text(tapped.toGuacd)).toMatch(
      /^6\.select,3\.vnc;4\.size,4\.1024,3\.768,2\.96;5\.audio;5\.video;5\.image;7\.connect,13\.VERSION_1_3_0,9\.127\.0\.0\.1,\d\.\d+,/,
    );
    expect(text(tapped.fromGuacd)).toMatch(/5\.ready,37\.\$[0-9a-f-]{36};/);
    // the client never sees the handshake, only what follows `ready`
    expect(c.instructions.some((i) => i.op === 'args' || i.op === 'ready')).toBe(false);
    const signals = pair.clientSignals.filter((s) => s.kind === 'guacd_instruction');
    expect(signals.map((s) => s.data)).toContain('4.size,1.0,3.800,3.600;');
    expect(signals[0]?.conversationId).toBe('conv-1');

    // the clock redraws every second: the session keeps streaming while the client answers every sync
    await sleep(Math.max(0, 15_000 - (Date.now() - t0)));
    const syncsAt15 = c.count('sync');
    await sleep(Math.max(0, 20_500 - (Date.now() - t0)));
    expect(c.count('sync')).toBeGreaterThan(syncsAt15);
    expect(c.instructions.filter((i) => i.op === 'error')).toEqual([]);
    expect(c.closed).toBe(false);
    expect(c.syncReplies).toBe(c.count('sync'));
    expect(c.parseError).toBeUndefined();

    // closeTube on the gateway while the session streams: quick, and guacd is told
    const t1 = Date.now();
    await pair.client.closeTube(pair.clientTube);
    expect(Date.now() - t1).toBeLessThan(scaled(1_500));
    await waitFor(() => text(tapped.toGuacd).includes('10.disconnect;'), 2_000, 'disconnect at guacd');
    expect(text(tapped.toGuacd)).toContain('3.log,26.connection closed normally;10.disconnect;');
    await waitFor(() => c.closed, 3_000, 'local client closed');
    expect(c.instructions.slice(-2).map((i) => i.op)).toEqual(['log', 'disconnect']);
    expect(c.parseError).toBeUndefined();
  }, 45_000);

  it('telnet: typed keys create a file on the host; non-ASCII text arrives intact via key and clipboard', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tubes-guacd-telnet-'));
    later(() => rmSync(dir, { recursive: true, force: true }));
    const { pair, taps } = await session('telnet', { hostname: '127.0.0.1', port: peers.port('telnetd') });
    const c = await client(pair.listenAddr as string);
    await c.waitFor((i) => i.op === 'sync', 10_000, 'first sync');
    await sleep(1_000); // the shell prompt

    c.type(`touch ${dir}/typed-ok\n`);
    await waitFor(() => existsSync(path.join(dir, 'typed-ok')), 10_000, 'file created by typed command');

    // keys: guacd 1.3 maps Unicode keysyms of the Basic Multilingual Plane only (no emoji by key)
    const keyFile = path.join(dir, 'key.txt');
    const bmp = 'Grüße 日本語 ÀÉÎ';
    c.type(`cat > ${keyFile}\n`);
    await sleep(500);
    c.type(`${bmp}\n`);
    await sleep(200);
    c.ctrlD();
    await waitFor(
      () => existsSync(keyFile) && readFileSync(keyFile, 'utf8').endsWith('\n'),
      10_000,
      'key.txt',
    );
    expect(readFileSync(keyFile, 'utf8')).toBe(`${bmp}\n`);

    // clipboard: a text/plain stream to guacd, then a middle click pastes it into the terminal
    const clipFile = path.join(dir, 'clip.txt');
    c.type(`cat > ${clipFile}\n`);
    await sleep(500);
    c.send('clipboard', '7', 'text/plain');
    c.send('blob', '7', Buffer.from(UTF8_TEXT, 'utf8').toString('base64'));
    c.send('end', '7');
    await sleep(200);
    c.send('mouse', '10', '10', '2');
    c.send('mouse', '10', '10', '0');
    await sleep(300);
    c.type('\n');
    await sleep(200);
    c.ctrlD();
    await waitFor(
      () => existsSync(clipFile) && readFileSync(clipFile, 'utf8').endsWith('\n'),
      10_000,
      'clip.txt',
    );
    expect(readFileSync(clipFile, 'utf8')).toBe(`${UTF8_TEXT}\n`);
    expect(c.instructions.filter((i) => i.op === 'error')).toEqual([]);
    expect(c.parseError).toBeUndefined();

    // closeTube on the offerer: the gateway gets CloseConnection(conn, Normal) and tells guacd
    const t1 = Date.now();
    await pair.server.closeTube(pair.serverTube);
    expect(Date.now() - t1).toBeLessThan(scaled(1_500));
    const tapped = taps.sessions[0] as TapSession;
    await waitFor(
      () => text(tapped.toGuacd).endsWith('3.log,26.connection closed normally;10.disconnect;'),
      2_000,
      'log + disconnect at guacd',
    );
  }, 45_000);

  it('backend down: what guacd sends after ready is relayed byte for byte (error 519 → GuacdError close; its lost-error race → disconnect, Normal), and the tube carries the next session', async () => {
    const vncPort = await freePort(); // closed: nothing listens there yet
    const rec = recordDiagnostics();
    later(() => rec.stop());
    const { pair, taps } = await session('vnc', { hostname: '127.0.0.1', port: vncPort });
    const c = await client(pair.listenAddr as string, false);
    await waitFor(() => c.closed, 15_000, 'local client closed');
    expect(c.parseError).toBeUndefined();

    // The tap is the oracle of what guacd sent. guacd 1.3.0 starts the VNC thread inside the join handler,
    // before the user is on the connection's user list (libguac client.c, guac_client_add_user): when the
    // refused connect aborts first (a loaded machine), `error` is broadcast to nobody and the user only
    // gets guacd's `disconnect`. Either way the local client must read exactly what guacd sent after
    // `ready`, up to and including the first `error`/`disconnect`, byte for byte.
    const fromGuacd = instructionsOf((taps.sessions[0] as TapSession).fromGuacd);
    expect(fromGuacd[0]?.[0]).toBe('args');
    const ready = fromGuacd.findIndex((i) => i[0] === 'ready');
    expect(ready).toBeGreaterThan(0);
    const afterReady = fromGuacd.slice(ready + 1);
    const last = afterReady.findIndex((i) => i[0] === 'error' || i[0] === 'disconnect');
    expect(last).toBeGreaterThanOrEqual(0);
    const relayed = afterReady.slice(0, last + 1);
    expect(text(c.raw)).toBe(
      relayed.map(([op, ...args]) => encodeInstruction(op as string, ...args)).join(''),
    );
    const terminal = relayed[last] as string[];

    if (terminal[0] === 'error') {
      expect(terminal[2]).toBe('519');
      const message = `Guacd error: ${terminal.slice(1).join(', ')}`;
      expect(rec.closes).toContainEqual(
        expect.objectContaining({ role: 'client', connNo: 1, reason: 14, message, initiator: 'local' }),
      );
      expect(rec.closes).toContainEqual(
        expect.objectContaining({ role: 'server', connNo: 1, reason: 14, message, initiator: 'remote' }),
      );
      await waitFor(
        () => pair.clientSignals.some((s) => s.kind === 'channel_closed' && s.data.includes('"code":14')),
        3_000,
        'channel_closed with GuacdError',
      );
      const closed = pair.clientSignals.find((s) => s.kind === 'channel_closed');
      expect(JSON.parse(closed?.data ?? '{}').outcome).toBe('critical_upstream_closed: conv-1');
    } else {
      // guacd's own `disconnect` without `error`: a Normal close "Guacd disconnect", as for any disconnect
      const message = 'Guacd disconnect';
      expect(rec.closes).toContainEqual(
        expect.objectContaining({ role: 'client', connNo: 1, reason: 0, message, initiator: 'local' }),
      );
      expect(rec.closes).toContainEqual(
        expect.objectContaining({ role: 'server', connNo: 1, reason: 0, message, initiator: 'remote' }),
      );
      await waitFor(
        () => pair.clientSignals.some((s) => s.kind === 'channel_closed'),
        3_000,
        'channel_closed',
      );
      const closed = pair.clientSignals.find((s) => s.kind === 'channel_closed');
      expect(JSON.parse(closed?.data ?? '{}').outcome).toBe('normal_exit');
    }
    expect(rec.closes.filter((m) => m.connNo === 1)).toHaveLength(2);

    // the primary's end ended the channel, not the tube: a new channel on the same tube runs a session
    expect(pair.server.getTubeStatus(pair.serverTube)).toBe('ready');
    expect(pair.client.getTubeStatus(pair.clientTube)).toBe('ready');
    const forward = net.createServer((s) => {
      const up = net.connect({ host: '127.0.0.1', port: peers.port('xvnc') });
      s.on('error', () => {});
      up.on('error', () => {});
      s.pipe(up).pipe(s);
      s.on('close', () => up.destroy());
      up.on('close', () => s.destroy());
    });
    await new Promise<void>((r) => forward.listen(vncPort, '127.0.0.1', r));
    later(() => new Promise<void>((r) => forward.close(() => r())));
    const listenPort = await freePort();
    await pair.server.createTube({
      tubeId: pair.serverTube,
      conversationId: 'conv-2',
      settings: { conversationType: 'vnc', local_listen_addr: `127.0.0.1:${listenPort}` },
      trickleIce: true,
    });
    const c2 = await client(`127.0.0.1:${listenPort}`);
    const size = await c2.waitFor((i) => i.op === 'size' && i.args[0] === '0', 10_000, 'size on conv-2');
    expect(size.args).toEqual(['0', '800', '600']);
    expect(c2.parseError).toBeUndefined();
  }, 45_000);
});
