/**
 * Resilience benchmark (npm run bench:resilience): a tube pair in two network namespaces
 * (test/helpers/netns.ts; needs root, iproute2, nftables) carries a paced TCP transfer each way; the path
 * is cut both ways for 1, 4, 8 and 15 s, then healed. Per outage: when each side reported the loss
 * (`connection_state_changed: disconnected`), when the first restart offer went out, how long the restart
 * took (offer → `connected`), how long after the heal data moved again both ways, how many restarts, and the
 * most bytes buffered toward the peer during the outage (data channel + SCTP queues, both sides). Mostly
 * waiting: one run takes about two minutes. Defaults of the registry (src/registry/ice-restart.ts) apply.
 *
 *   node bench/resilience.ts [--outages 1,4,8,15] [--rate 2M] [--json]
 */
import { parseArgs } from 'node:util';
import { machine } from '../src/bench/lib.ts';
import { connectTubes, RemoteRegistry } from '../src/cli/remote.ts';
import { formatBytes, parseBytes } from '../src/cli/workload.ts';
import type { TubeRegistryOptions } from '../src/registry/registry.ts';
import type { Signal } from '../src/registry/signals.ts';
import { createNetwork, type NetHost, netnsUnavailable } from '../test/helpers/netns.ts';
import { Endpoint } from '../test/helpers/transfer-endpoint.ts';

const { values } = parseArgs({
  options: {
    outages: { type: 'string', default: '1,4,8,15' },
    rate: { type: 'string', default: '2M' },
    json: { type: 'boolean', default: false },
  },
});

const REGISTRY: TubeRegistryOptions = { ipv6: false };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row {
  outageS: number;
  lossServerMs: number | null;
  lossClientMs: number | null;
  restartOffers: number;
  firstOfferMs: number | null;
  restartMs: number | null;
  recoverMs: number;
  peakBufferedBytes: number;
}

async function scenario(outageS: number, rate: number): Promise<Row> {
  const net = await createNetwork(2);
  const stops: Array<() => Promise<unknown> | unknown> = [];
  try {
    const [h0, h1] = net.hosts as [NetHost, NetHost];
    const bytes = String(4 * 1024 * 1024 * 1024);
    const target = new Endpoint(net, h1, ['listen', bytes, String(rate)]);
    stops.push(() => target.child.kill('SIGKILL'));
    await target.wait(() => target.last('listening') !== undefined, 10_000, 'target listening');
    const server = new RemoteRegistry(REGISTRY, { wrap: net.prefix(h0) });
    const client = new RemoteRegistry(REGISTRY, { wrap: net.prefix(h1) });
    stops.push(
      () => server.stop(),
      () => client.stop(),
    );
    const signals: Array<Signal & { side: string; at: number }> = [];
    const ids = { server: '', client: '' };
    const pair = await connectTubes({
      server,
      client,
      clientSettings: {
        conversationType: 'tunnel',
        target_host: '127.0.0.1',
        target_port: target.last('listening')?.port as number,
      },
      onSignal: (side, sig) => {
        signals.push({ ...sig, side, at: Date.now() });
        if (sig.kind !== 'ice_restart_offer' || side !== 'server') return;
        void client
          .setRemoteDescription(ids.client, sig.data, false)
          .then((answer) => server.setRemoteDescription(ids.server, answer as string, true))
          .catch(() => {});
      },
    });
    ids.server = pair.serverTube;
    ids.client = pair.clientTube;
    const source = new Endpoint(net, h0, ['connect', pair.listenAddr as string, bytes, String(rate)]);
    stops.push(() => source.child.kill('SIGKILL'));
    await source.wait(() => source.received > 2 * rate && target.received > 2 * rate, 30_000, 'transfer');

    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [a, b] = await Promise.all([server.getLiveStats('conv-1'), client.getLiveStats('conv-1')]);
        peak = Math.max(peak, Number(a?.['buffered_bytes'] ?? 0), Number(b?.['buffered_bytes'] ?? 0));
        await sleep(100);
      }
    })();
    const cutAt = Date.now();
    await net.cut([1]);
    await sleep(outageS * 1000);
    const healAt = Date.now();
    const rxSource = source.received;
    const rxTarget = target.received;
    await net.heal([1]);
    await source.wait(
      () => source.received > rxSource && target.received > rxTarget,
      90_000,
      'data moving again both ways',
    );
    const moving = Math.max(source.last('progress')?.at ?? 0, target.last('progress')?.at ?? 0);
    await sleep(4_000); // let the restart machine report
    sampling = false;
    await sampler;
    const first = (side: string, kind: string, data?: string) =>
      signals.find((s) => s.side === side && s.kind === kind && s.at >= cutAt && (!data || s.data === data));
    const lostS = first('server', 'connection_state_changed', 'disconnected');
    const lostC = first('client', 'connection_state_changed', 'disconnected');
    const offers = signals.filter((s) => s.kind === 'ice_restart_offer' && s.at >= cutAt);
    const back = first('server', 'connection_state_changed', 'connected');
    const lastOffer = offers.at(-1);
    return {
      outageS,
      lossServerMs: lostS ? lostS.at - cutAt : null,
      lossClientMs: lostC ? lostC.at - cutAt : null,
      restartOffers: offers.length,
      firstOfferMs: offers[0] ? offers[0].at - cutAt : null,
      restartMs: lastOffer && back ? Math.max(0, back.at - Math.max(lastOffer.at, healAt)) : null,
      recoverMs: moving - healAt,
      peakBufferedBytes: peak,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
    await net.dispose();
  }
}

async function main(): Promise<void> {
  const skip = netnsUnavailable();
  if (skip) {
    console.error(`bench:resilience needs network namespaces: ${skip}`);
    process.exit(2);
  }
  const rate = parseBytes(values.rate);
  const rows: Row[] = [];
  for (const s of values.outages.split(',').map(Number)) {
    process.stderr.write(`outage ${s} s …\n`);
    rows.push(await scenario(s, rate));
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ machine: machine(), rate, rows }, null, 2)}\n`);
    return;
  }
  const ms = (v: number | null): string => (v === null ? '—' : `${(v / 1000).toFixed(1)} s`);
  console.log(`machine: ${JSON.stringify(machine())}`);
  console.log(`transfer: ${formatBytes(rate)}/s each way, path cut both ways at the switch`);
  console.log(
    '| outage | loss reported (server / client) | restart offers | first offer after | restart (offer or heal → connected) | data moving again after heal | peak buffered |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.outageS} s | ${ms(r.lossServerMs)} / ${ms(r.lossClientMs)} | ${r.restartOffers} | ${ms(r.firstOfferMs)} | ` +
        `${ms(r.restartMs)} | ${ms(r.recoverMs)} | ${formatBytes(r.peakBufferedBytes)} |`,
    );
  }
}

await main();
