import { afterEach, describe, expect, it } from 'vitest';
import { isTubesError } from '../../src/errors.ts';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import { resolveIceRestartOptions } from '../../src/registry/ice-restart.ts';
import { activeNetworkPollers, addressFingerprint, watchNetwork } from '../../src/registry/network-watch.ts';
import { restartHarness, traffic } from '../helpers/restart-harness.ts';
import { connect, echoServer, pumpAndCollect, tubePair } from '../helpers/tubes.ts';

describe('RestartMachine', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('silence → lost within lossAfterMs (+ one poll), restart after the Disconnected wait, recovery on activity', async () => {
    const h = restartHarness(true);
    traffic(h, 0, 5_000);
    await h.clock.advance(5_000);
    expect(h.events).toEqual([]);
    await h.clock.advance(3_500); // the path went quiet at ~4.8 s
    expect(h.events).toEqual(['8000 disconnected']);
    expect(h.machine.lost).toBe(true);
    await h.clock.advance(2_000);
    expect(h.events).toEqual(['8000 disconnected', '10000 offer']);
    expect(h.machine.phase).toBe('offering');
    h.machine.answered();
    expect(h.machine.phase).toBe('checking');
    h.machine.iceState('connected');
    expect(h.machine.restartsCompleted).toBe(1);
    traffic(h, 10_500, 12_000);
    await h.clock.advance(2_000);
    expect(h.events).toEqual(['8000 disconnected', '10000 offer', '10750 connected']);
    expect(h.machine.lost).toBe(false);
    expect(h.closed).toBeUndefined();
  });

  it('werift failed → restart at once; a short outage repaired by SCTP needs no restart', async () => {
    const h = restartHarness(true);
    traffic(h, 0, 1_000);
    await h.clock.advance(1_000);
    h.machine.iceState('failed');
    expect(h.events).toEqual(['1000 disconnected']);
    await h.clock.advance(0);
    expect(h.offers).toBe(1);

    const g = restartHarness(true);
    traffic(g, 0, 1_000);
    traffic(g, 4_200, 6_000); // back after 3.2 s: lost at ~4 s, back before the 2 s wait ends
    await g.clock.advance(6_000);
    expect(g.offers).toBe(0);
    expect(g.events.map((e) => e.split(' ')[1])).toEqual(['disconnected', 'connected']);
    expect(g.machine.phase).toBe('idle');
  });

  it('answerer: reports loss and recovery but never offers (no glare between two tubes)', async () => {
    const h = restartHarness(false);
    await h.clock.advance(10_000);
    h.machine.iceState('failed');
    h.machine.networkChanged();
    await h.clock.advance(5_000);
    expect(h.offers).toBe(0);
    expect(h.events).toEqual(['3000 disconnected']);
    h.machine.remoteOffer();
    traffic(h, 16_000, 17_000);
    await h.clock.advance(2_000);
    expect(h.events).toEqual(['3000 disconnected', '16250 connected']);
  });

  it('failed restarts back off 1, 2, 4 s; one in flight; give-up closes with ConnectionFailed when the peer answered', async () => {
    const h = restartHarness(true);
    await h.clock.advance(3_000); // lost at 3 s
    await h.clock.advance(2_000); // first offer at 5 s
    expect(h.offers).toBe(1);
    h.machine.networkChanged(); // ignored: one restart in flight
    h.machine.iceState('failed'); // stale failure while offering: not an attempt failure
    expect(h.offers).toBe(1);
    const offersAt: number[] = [h.clock.t];
    for (let i = 0; i < 3; i++) {
      h.machine.answered();
      await h.clock.advance(500);
      h.machine.iceState('failed');
      const before = h.offers;
      while (h.offers === before) await h.clock.advance(100);
      offersAt.push(h.clock.t);
    }
    const gaps = offersAt.slice(1).map((t, i) => t - (offersAt[i] as number) - 500);
    expect(gaps).toEqual([1_000, 2_000, 4_000]);
    h.machine.answered();
    await h.clock.advance(30_000);
    expect(h.closed?.reason).toBe(CloseConnectionReason.ConnectionFailed);
    expect(h.closed?.why).toMatch(/still lost/);
  });

  it('one direction dead (we hear the peer, it does not acknowledge us) is a loss too; unwatched marks are ignored', async () => {
    const h = restartHarness(true);
    traffic(h, 0, 10_000, 200, true);
    await h.clock.advance(4_000);
    expect(h.events).toEqual(['3000 disconnected']);
    traffic(h, 4_000, 6_000);
    await h.clock.advance(1_000);
    expect(h.events).toEqual(['3000 disconnected', '4250 connected']);

    const g = restartHarness(true);
    g.acked.value = Number.NaN; // e.g. werift's association not reachable: only the inbound mark counts
    traffic(g, 0, 10_000, 200, true);
    await g.clock.advance(10_000);
    expect(g.events).toEqual([]);
  });

  it('no answer within answerTimeoutMs → Timeout', async () => {
    const h = restartHarness(true, { answerTimeoutMs: 4_000 });
    await h.clock.advance(5_000);
    expect(h.offers).toBe(1);
    await h.clock.advance(4_000);
    expect(h.closed?.reason).toBe(CloseConnectionReason.Timeout);
  });

  it('nothing heard from the peer (answerer) → ConnectionLost after giveUpAfterMs', async () => {
    const h = restartHarness(false, { giveUpAfterMs: 10_000 });
    await h.clock.advance(3_000);
    await h.clock.advance(9_999);
    expect(h.closed).toBeUndefined();
    await h.clock.advance(1);
    expect(h.closed?.reason).toBe(CloseConnectionReason.ConnectionLost);
  });

  it('the breaker stops restarts after maxRestarts within the window', async () => {
    const h = restartHarness(true, { maxRestarts: 2, giveUpAfterMs: 1e9, checkTimeoutMs: 1_000 });
    await h.clock.advance(5_000);
    for (let i = 0; i < 5; i++) {
      h.machine.answered();
      await h.clock.advance(20_000);
    }
    expect(h.offers).toBe(2);
  });

  it('an offer that cannot be made is retried with backoff', async () => {
    const h = restartHarness(true, { giveUpAfterMs: 1e9 }, true);
    await h.clock.advance(5_000);
    await h.clock.advance(8_000);
    expect(h.offers).toBeGreaterThanOrEqual(3);
  });

  it('a local network change restarts at once (initiator)', async () => {
    const h = restartHarness(true);
    traffic(h, 0, 2_000);
    await h.clock.advance(1_000);
    h.machine.networkChanged();
    await h.clock.advance(0);
    expect(h.offers).toBe(1);
  });

  it('options: defaults, the original environment names (seconds), explicit options win', () => {
    expect(resolveIceRestartOptions().disconnectedWaitMs).toBe(2_000);
    process.env['KEEPER_GATEWAY_ICE_DISCONNECTED_WAIT_SECS'] = '5';
    process.env['KEEPER_GATEWAY_ICE_RESTART_ANSWER_TIMEOUT_SECS'] = '7.5';
    const o = resolveIceRestartOptions();
    expect(o.disconnectedWaitMs).toBe(5_000);
    expect(o.answerTimeoutMs).toBe(7_500);
    expect(
      resolveIceRestartOptions({ disconnectedWaitMs: 100, answerTimeoutMs: undefined }).disconnectedWaitMs,
    ).toBe(100);
    process.env['KEEPER_GATEWAY_ICE_DISCONNECTED_WAIT_SECS'] = 'soon';
    expect(resolveIceRestartOptions().disconnectedWaitMs).toBe(2_000);
  });
});

describe('network watch', () => {
  it('fingerprints non-loopback addresses (link-local IPv6 left out), order-independent', () => {
    const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false) => ({
      address,
      family,
      internal,
      netmask: '',
      mac: '',
      cidr: null,
      ...(family === 'IPv6' ? { scopeid: 0 } : {}),
    });
    const a = addressFingerprint({
      lo: [iface('127.0.0.1', 'IPv4', true)],
      eth0: [iface('10.0.0.2', 'IPv4'), iface('fe80::1', 'IPv6')],
      wlan0: [iface('192.168.1.5', 'IPv4')],
    } as never);
    const b = addressFingerprint({
      wlan0: [iface('192.168.1.5', 'IPv4')],
      eth0: [iface('fe80::2', 'IPv6'), iface('10.0.0.2', 'IPv4')],
    } as never);
    expect(a).toBe('eth0/10.0.0.2,wlan0/192.168.1.5');
    expect(b).toBe(a);
    expect(addressFingerprint({ eth0: [iface('10.0.0.3', 'IPv4')] } as never)).not.toBe(a);
  });

  it('one poller per interval shared by every watcher, gone with the last one; 0 disables', () => {
    const before = activeNetworkPollers();
    const stopA = watchNetwork(60_000, () => {});
    const stopB = watchNetwork(60_000, () => {});
    expect(activeNetworkPollers()).toBe(before + 1);
    stopA();
    expect(activeNetworkPollers()).toBe(before + 1);
    stopB();
    expect(activeNetworkPollers()).toBe(before);
    watchNetwork(0, () => {})();
    expect(activeNetworkPollers()).toBe(before);
  });
});

describe('glare between two tubes (loopback, both restart at once)', () => {
  it('the original offerer keeps its offer, the answerer rolls its own back and answers; traffic flows after', async () => {
    const echo = await echoServer();
    const pair = await tubePair({
      clientSettings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: echo.port },
    });
    try {
      // Traffic first: the capability probe tells the server its peer is one of ours.
      const before = await pumpAndCollect(await connect(pair.listenAddr as string), 256 * 1024);
      expect(before.receivedHash).toBe(before.sentHash);
      const serverOffer = await pair.server.restartIce(pair.serverTube);
      const clientOffer = await pair.client.restartIce(pair.clientTube);
      // Both offers cross; the server's wins.
      const refused = await pair.server
        .setRemoteDescription(pair.serverTube, clientOffer, false)
        .catch((e) => e);
      expect(isTubesError(refused) && refused.message).toMatch(/glare/);
      const answer = await pair.client.setRemoteDescription(pair.clientTube, serverOffer, false);
      await pair.server.setRemoteDescription(pair.serverTube, answer as string, true);
      const after = await pumpAndCollect(await connect(pair.listenAddr as string), 1024 * 1024);
      expect(after.receivedHash).toBe(after.sentHash);
      expect(pair.server.getTubeStatus(pair.serverTube)).toBe('ready');
      expect(pair.client.getTubeStatus(pair.clientTube)).toBe('ready');
    } finally {
      await pair.close();
      await echo.close();
    }
  }, 60_000);
});
