import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../../src/cli/remote.ts';
import { ErrorCode, isTubesError, TubeRegistry } from '../../src/index.ts';
import { connect, echoServer, pumpAndCollect } from '../helpers/tubes.ts';

type Closer = () => Promise<void> | void;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('RemoteRegistry: a TubeRegistry in a child process', () => {
  const cleanups: Closer[] = [];
  const later = (fn: Closer): void => void cleanups.push(fn);
  afterEach(async () => {
    while (cleanups.length) await (cleanups.pop() as Closer)();
  });

  function remote(...args: ConstructorParameters<typeof RemoteRegistry>): RemoteRegistry {
    const r = new RemoteRegistry(...args);
    later(() => r.stop());
    return r;
  }

  it('returns errors as TubesError with the same code and message as TubeRegistry', async () => {
    const r = remote(LOOPBACK);
    const local = new TubeRegistry(LOOPBACK);
    const cases: [string, () => Promise<unknown>, () => unknown][] = [
      ['getTubeStatus', () => r.getTubeStatus('nope'), () => local.getTubeStatus('nope')],
      ['getConnectionState', () => r.getConnectionState('nope'), () => local.getConnectionState('nope')],
      ['closeTube', () => r.closeTube('nope'), () => local.closeTube('nope')],
      ['closeConnection', () => r.closeConnection('nope', 1), () => local.closeConnection('nope', 1)],
      [
        'createTube',
        () =>
          r.createTube({ conversationId: 'c', settings: { conversationType: 'bogus' }, trickleIce: true }),
        () =>
          local.createTube({
            conversationId: 'c',
            settings: { conversationType: 'bogus' },
            trickleIce: true,
          }),
      ],
    ];
    for (const [name, viaChild, inProcess] of cases) {
      let expected: unknown;
      try {
        await inProcess();
      } catch (err) {
        expected = err;
      }
      expect(isTubesError(expected), name).toBe(true);
      const got = await viaChild().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isTubesError(got), name).toBe(true);
      expect((got as Error).message, name).toBe((expected as Error).message);
      expect((got as { code: string }).code, name).toBe((expected as { code: string }).code);
    }
    // Fire-and-forget like the original: unknown tube, no error.
    await expect(
      r.addIceCandidate('nope', 'candidate:1 1 udp 1 127.0.0.1 9 typ host'),
    ).resolves.toBeUndefined();
    await expect(r.tubeFound('nope')).resolves.toBe(false);
    await expect(r.cleanupAll()).resolves.toBeUndefined();
  });

  it('tunnels 64 MiB each way through a local server tube and a client tube in the child, with its signals', async () => {
    const echo = await echoServer();
    later(() => echo.close());
    const server = new TubeRegistry(LOOPBACK);
    later(() => server.cleanupAll());
    const client = remote(LOOPBACK);
    const pair = await connectTubes({
      server,
      client,
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    expect(pair.createToReadyMs).toBeGreaterThan(0);
    expect(pair.clientSignals.some((s) => s.kind === 'icecandidate' && s.tubeId === pair.clientTube)).toBe(
      true,
    );
    expect(
      pair.clientSignals.some((s) => s.kind === 'connection_state_changed' && s.data === 'connected'),
    ).toBe(true);
    expect(await client.getTubeStatus(pair.clientTube)).toBe('ready');
    expect(await client.getConnectionState(pair.clientTube)).toBe('Connected');
    const socket = await connect(pair.listenAddr as string);
    const r = await pumpAndCollect(socket, 64 * 1024 * 1024, 7);
    expect(r.received).toBe(64 * 1024 * 1024);
    expect(r.receivedHash).toBe(r.sentHash);
    const stats = await client.getLiveStats('conv-1');
    expect(stats?.['tube_id']).toBe(pair.clientTube);

    await client.closeTube(pair.clientTube);
    expect(await client.tubeFound(pair.clientTube)).toBe(false);
    expect(pair.clientSignals.some((s) => s.kind === 'channel_closed')).toBe(true);
  });

  it('works the other way round: the server tube and its listener in the child', async () => {
    const echo = await echoServer();
    later(() => echo.close());
    const server = remote(LOOPBACK);
    const client = new TubeRegistry(LOOPBACK);
    later(() => client.cleanupAll());
    const pair = await connectTubes({
      server,
      client,
      trickleIce: false,
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    expect(pair.listenAddr).toMatch(/^127\.0\.0\.1:\d+$/);
    const socket = await connect(pair.listenAddr as string);
    const r = await pumpAndCollect(socket, 1024 * 1024, 3);
    expect(r.receivedHash).toBe(r.sentHash);
  });

  it('stop() ends the child; later calls reject with TUBES_ERR_CLOSED', async () => {
    const r = remote(LOOPBACK);
    await r.ready();
    const pid = r.pid as number;
    expect(alive(pid)).toBe(true);
    await r.stop();
    await r.stop(); // idempotent
    expect(alive(pid)).toBe(false);
    await expect(r.getTubeStatus('x')).rejects.toMatchObject({ code: ErrorCode.CLOSED });
  });

  it('a child that dies rejects pending and later calls with TUBES_ERR_CLOSED', async () => {
    const r = remote(LOOPBACK);
    await r.ready();
    const pending = r.createTube({
      conversationId: 'c',
      settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
      trickleIce: false,
    });
    process.kill(r.pid as number, 'SIGKILL');
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(r.tubeFound('x')).rejects.toThrow(/exited \(signal SIGKILL\)/);
  });

  it('a child that cannot start rejects ready() and calls, quoting its stderr', async () => {
    const r = remote(LOOPBACK, { execArgv: ['--no-such-node-flag'] });
    await expect(r.ready()).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(r.getTubeStatus('x')).rejects.toThrow(/exited \(code \d+\): .*--no-such-node-flag/s);
  });

  it("passes the child's log records to the logger option", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const r = remote({ ...LOOPBACK, logger: pino({ level: 'debug' }, sink) });
    await r.ready();
    const rec = lines.find((l) => l['msg'] === 'remote registry child ready');
    expect(rec).toMatchObject({ level: 20, childPid: r.pid });
  });
});
