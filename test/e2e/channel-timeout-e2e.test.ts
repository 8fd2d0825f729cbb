/**
 * Keepalive timeout end to end: a real tube pair (the gateway in a child process), the gateway frozen with
 * SIGSTOP so it answers nothing; the offerer's tube closes with Timeout after `keepaliveTimeoutMs`.
 * Short limits keep it to a few seconds; the timeout stays well above a loaded machine's scheduling hiccups.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connectTubes, LOOPBACK, RemoteRegistry } from '../../src/cli/remote.ts';
import { TubeRegistry } from '../../src/index.ts';
import { echoServer } from '../helpers/tubes.ts';

type Closer = () => Promise<void> | void;
const cleanups: Closer[] = [];
afterEach(async () => {
  while (cleanups.length) await (cleanups.pop() as Closer)();
});

async function until(cond: () => boolean | Promise<boolean>, what: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('keepalive timeout', () => {
  it('a peer that goes silent: the tube closes with Timeout (2), reported in channel_closed', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const client = new RemoteRegistry(LOOPBACK);
    const pid = client.pid as number;
    cleanups.push(() => client.stop());
    cleanups.push(() => void process.kill(pid, 'SIGCONT'));
    const server = new TubeRegistry({
      ...LOOPBACK,
      limits: { keepaliveIntervalMs: 200, keepaliveTimeoutMs: 2_000 },
      // the keepalive timeout alone: with automatic ICE restarts a silent peer is the restart logic's case
      // (lost, restart, give up; test/e2e/resilience.test.ts)
      iceRestart: { auto: false },
    });
    const pair = await connectTubes({
      server,
      client,
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    cleanups.push(async () => {
      if (server.tubeFound(pair.serverTube)) await server.closeTube(pair.serverTube);
    });
    // While the gateway answers our pings, more than a timeout's worth of time passes without a close.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(server.getTubeStatus(pair.serverTube)).toBe('ready');

    process.kill(pid, 'SIGSTOP');
    const closed = () =>
      pair.serverSignals.find((s) => s.kind === 'channel_closed' && s.data.includes('"close_reason"'));
    await until(() => closed() !== undefined, 'channel_closed on the offerer', 10_000);
    const data = JSON.parse((closed() as { data: string }).data) as {
      outcome: string;
      close_reason: { code: number; name: string };
    };
    expect(data.close_reason).toMatchObject({ code: 2, name: 'Timeout' });
    await until(() => !server.tubeFound(pair.serverTube), 'the tube gone from the registry', 5_000);
  });
});
