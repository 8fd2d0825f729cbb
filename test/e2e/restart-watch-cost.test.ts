/**
 * The restart machine polls its tube's progress marks every 250 ms: that read must stay cheap (a counter per
 * channel), never the channel's full stats (which carry the RTT summary). A real tube pair, idle.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Channel } from '../../src/channel/channel.ts';
import { echoServer, type TubePair, tubePair } from '../helpers/tubes.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length) await (cleanups.pop() as () => Promise<void> | void)();
});

describe('restart watcher cost', () => {
  it('an idle tube with automatic restarts reads no channel stats while it is watched', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const pair: TubePair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    cleanups.push(() => pair.close());
    const stats = vi.spyOn(Channel.prototype, 'stats');
    await new Promise((r) => setTimeout(r, 1_200)); // ≥ 4 polls on each side
    expect(pair.server.getTubeStatus(pair.serverTube)).toBe('ready');
    expect(stats).toHaveBeenCalledTimes(0);
  });
});
