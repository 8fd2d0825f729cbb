/**
 * Keepalive timeout end to end: a real tube pair (the gateway in a child process), the gateway frozen with
 * SIGSTOP so it answers nothing; the offerer's tube closes with Timeout after `keepaliveTimeoutMs`, with
 * automatic ICE restarts on (the default): the restart machine notices the loss and restarts before the
 * explicit keepalive timeout, which stays the deadline.
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

const TIMEOUT_MS = 3_000;

describe('keepalive timeout', () => {
  it('a peer that goes silent: the tube closes with Timeout (2) after keepaliveTimeoutMs, automatic restarts on', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const client = new RemoteRegistry(LOOPBACK);
    const pid = client.pid as number;
    cleanups.push(() => client.stop());
    cleanups.push(() => void process.kill(pid, 'SIGCONT'));
    const server = new TubeRegistry({
      ...LOOPBACK,
      limits: { keepaliveIntervalMs: 200, keepaliveTimeoutMs: TIMEOUT_MS },
      // automatic restarts stay on (the default); a quick loss detection and restart, so that a restart is
      // attempted before the keepalive timeout (without it the unanswered restart would end the tube only after
      // answerTimeoutMs, 20 s)
      iceRestart: { lossAfterMs: 1_500, disconnectedWaitMs: 300 },
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
    const stoppedAt = performance.now();
    const closed = () =>
      pair.serverSignals.find((s) => s.kind === 'channel_closed' && s.data.includes('"close_reason"'));
    await until(() => closed() !== undefined, 'channel_closed on the offerer', 10_000);
    const closedAfterMs = performance.now() - stoppedAt;
    // the peer was last heard at most one ping interval (+ one poll) before the stop
    expect(closedAfterMs).toBeGreaterThan(TIMEOUT_MS - 600);
    expect(closedAfterMs).toBeLessThan(TIMEOUT_MS + 2_500);
    const kinds = pair.serverSignals.map((s) => s.kind);
    // the restart machine took part: loss reported and a restart offered before the close
    expect(kinds.indexOf('ice_restart_offer')).toBeGreaterThan(-1);
    expect(kinds.indexOf('ice_restart_offer')).toBeLessThan(kinds.indexOf('channel_closed'));
    const data = JSON.parse((closed() as { data: string }).data) as {
      outcome: string;
      close_reason: { code: number; name: string };
    };
    expect(data.close_reason).toMatchObject({ code: 2, name: 'Timeout' });
    await until(() => !server.tubeFound(pair.serverTube), 'the tube gone from the registry', 5_000);
  });
});
