/**
 * The test network helper itself (test/helpers/netns.ts): hosts reach each other through the switch, `cut`
 * really darkens the path and `heal` restores it, `moveAddress` changes the address, `blockUdpBetween` drops
 * UDP only between the two hosts named, and `dispose` leaves no namespace behind.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetwork, type Network } from '../helpers/netns.ts';
import { requireNetns } from '../helpers/skip.ts';

const skip = requireNetns({ named: true, suite: 'netns helper tests' });

describe.skipIf(skip)('test network namespaces', () => {
  let net: Network;
  beforeAll(async () => {
    net = await createNetwork(3);
  });
  afterAll(async () => {
    await net?.dispose();
  });

  /** Reachability without ping: a TCP connect to a closed port is refused when the path works, silent when dark. */
  const ping = async (from: number, to: string): Promise<boolean> =>
    net.exec(net.hosts[from]!, 'timeout', ['1', 'bash', '-c', `exec 3<>/dev/tcp/${to}/9`]).then(
      () => true,
      (err: { stderr?: string }) => /refused/i.test(String(err.stderr)),
    );

  it('hosts reach each other; cut darkens the path, heal restores it', async () => {
    const [a, b] = net.hosts;
    expect(await ping(0, b!.address)).toBe(true);
    await net.cut([1]);
    expect(await ping(0, b!.address)).toBe(false);
    expect(await ping(0, net.hosts[2]!.address)).toBe(true);
    await net.heal([1]);
    expect(await ping(1, a!.address)).toBe(true);
  });

  it('moveAddress replaces the address', async () => {
    const b = net.hosts[1]!;
    const old = b.address;
    const next = await net.moveAddress(b);
    expect(next).not.toBe(old);
    expect(await ping(0, next)).toBe(true);
    expect(await ping(0, old)).toBe(false);
  });

  it('blockUdpBetween drops UDP between two hosts only', async () => {
    await net.blockUdpBetween(0, 1);
    const udp = async (from: number, to: string): Promise<boolean> => {
      // one datagram through socat to a listener started in the target namespace
      const target = net.hosts.find((h) => h.address === to)!;
      const listener = net.spawn(target, 'socat', ['-u', 'UDP-RECV:9999', 'STDOUT']);
      let got = '';
      listener.stdout?.on('data', (d: Buffer) => {
        got += d.toString();
      });
      await new Promise((r) => setTimeout(r, 200));
      await net.exec(net.hosts[from]!, 'sh', ['-c', `echo hi | socat -u STDIN UDP-SENDTO:${to}:9999`]);
      const deadline = Date.now() + 1_000;
      while (!got && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      listener.kill('SIGKILL');
      return got.includes('hi');
    };
    expect(await udp(0, net.hosts[1]!.address)).toBe(false);
    expect(await udp(0, net.hosts[2]!.address)).toBe(true);
    expect(await ping(0, net.hosts[1]!.address)).toBe(true);
  });

  it('dispose removes every namespace', async () => {
    const other = await createNetwork(2);
    const names = [...other.hosts.map((h) => h.ns), other.switchNs];
    await other.dispose();
    const list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const n of names) expect(list).not.toContain(n);
  });
});
