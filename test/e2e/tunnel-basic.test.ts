import { afterEach, describe, expect, it } from 'vitest';
import { connect, echoServer, pumpAndCollect, type TubePair, tubePair } from '../helpers/tubes.ts';

describe('tunnel mode through two real werift tubes', () => {
  let pair: TubePair | undefined;
  let echo: Awaited<ReturnType<typeof echoServer>> | undefined;
  afterEach(async () => {
    await pair?.close();
    await echo?.close();
    pair = undefined;
    echo = undefined;
  });

  it('echoes 4 MiB with equal sha256', async () => {
    echo = await echoServer();
    pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    const socket = await connect(pair.listenAddr as string);
    const r = await pumpAndCollect(socket, 4 * 1024 * 1024);
    expect(r.received).toBe(4 * 1024 * 1024);
    expect(r.receivedHash).toBe(r.sentHash);
  });
});
