/**
 * The restart machine's deadline for a silent peer (an explicit `limits.keepaliveTimeoutMs`): it closes the
 * tube with Timeout even while restarts are attempted; without it the give-up rules alone apply.
 * Injectable timers: time moves only when the test says so.
 */
import { describe, expect, it } from 'vitest';
import { CloseConnectionReason } from '../../src/protocol/close-reason.ts';
import { DEFAULT_ICE_RESTART, restartMachineOptions } from '../../src/registry/ice-restart.ts';
import { restartHarness, traffic } from '../helpers/restart-harness.ts';

describe('RestartMachine: explicit keepalive timeout as the deadline', () => {
  it('a peer silent for peerSilenceTimeoutMs closes the tube with Timeout while restarts are attempted', async () => {
    const h = restartHarness(true, { peerSilenceTimeoutMs: 10_000 });
    traffic(h, 200, 1_000); // last activity at 800 ms, seen by the 1,000 ms poll
    await h.clock.advance(6_000);
    // lost (3 s of silence), then the first restart after the 2 s wait; the answer comes, connectivity does not
    expect(h.events).toEqual(['4000 disconnected', '6000 offer']);
    h.machine.answered();
    await h.clock.advance(3_000);
    h.machine.iceState('failed'); // the restart failed: the next one follows after the 1 s backoff
    await h.clock.advance(1_999);
    expect(h.closed).toBeUndefined();
    await h.clock.advance(1);
    expect(h.closed).toMatchObject({ reason: CloseConnectionReason.Timeout, at: 11_000 });
    expect(h.closed?.why).toMatch(/nothing received from the peer for 10000 ms/);
    expect(h.events.filter((e) => e.endsWith('offer')).length).toBe(2);
    // stopped: nothing more happens
    await h.clock.advance(60_000);
    expect(h.events.at(-1)).toBe('11000 close 2');
  });

  it('without it the same outage is left to the give-up rules (still open long after 10 s)', async () => {
    const h = restartHarness(true);
    traffic(h, 200, 1_000);
    await h.clock.advance(6_000);
    h.machine.answered();
    await h.clock.advance(4_000);
    h.machine.iceState('failed');
    await h.clock.advance(10_000);
    expect(h.closed).toBeUndefined();
    await h.clock.advance(20_000);
    expect(h.closed?.reason).toBe(CloseConnectionReason.ConnectionFailed); // give-up: 24 s after the loss
    expect(h.closed?.at).toBe(28_000);
  });

  it('shorter than lossAfterMs: closes before any loss is reported', async () => {
    const h = restartHarness(true, { peerSilenceTimeoutMs: 2_000 });
    await h.clock.advance(5_000);
    expect(h.events).toEqual(['2000 close 2']);
  });

  it('watches what arrives from the peer only: a peer we still hear is not timed out', async () => {
    const h = restartHarness(true, { peerSilenceTimeoutMs: 5_000 });
    traffic(h, 200, 40_000, 200, true); // we hear the peer, it acknowledges nothing of ours
    await h.clock.advance(20_000);
    expect(h.events.slice(0, 2)).toEqual(['3000 disconnected', '5000 offer']);
    expect(h.closed?.reason).not.toBe(CloseConnectionReason.Timeout);
  });

  it('restartMachineOptions: only an explicit keepaliveTimeoutMs (keepalive on) sets the deadline', () => {
    const o = DEFAULT_ICE_RESTART;
    expect(restartMachineOptions(o, undefined).peerSilenceTimeoutMs).toBeUndefined();
    expect(restartMachineOptions(o, { keepaliveIntervalMs: 200 }).peerSilenceTimeoutMs).toBeUndefined();
    expect(restartMachineOptions(o, { keepaliveTimeoutMs: 7_000 })).toMatchObject({
      lossAfterMs: 3_000,
      peerSilenceTimeoutMs: 7_000,
    });
    expect(restartMachineOptions(o, { keepaliveIntervalMs: 2_000, keepaliveTimeoutMs: 9_000 })).toMatchObject(
      {
        lossAfterMs: 5_000,
        peerSilenceTimeoutMs: 9_000,
      },
    );
    const off = restartMachineOptions(o, { keepaliveIntervalMs: 0, keepaliveTimeoutMs: 9_000 });
    expect(off.lossAfterMs).toBe(Number.POSITIVE_INFINITY);
    expect(off.peerSilenceTimeoutMs).toBeUndefined();
  });
});
