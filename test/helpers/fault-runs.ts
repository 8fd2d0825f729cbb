/**
 * Runs N tube establishments through the impairment proxy (or plainly, inside a lossy namespace) and prints
 * one JSON line per run plus a summary. Used by test/interop/transport-faults.test.ts as a child process (so that the
 * nftables variant runs inside `unshare -n`), and by hand:
 *   node test/helpers/fault-runs.ts --runs=20 --proxy="--loss=3"
 *   unshare -n sh scripts/peers/nft-loss-netns.sh 30 node test/helpers/fault-runs.ts --runs=20
 */
import { LOOPBACK } from '../../src/cli/remote.ts';
import { TubeRegistry } from '../../src/index.ts';
import { WERIFT_PATCHES, type WeriftPatch } from '../../src/webrtc/patches/index.ts';
import { impairedTubes, summarize } from './impair.ts';
import { echoServer } from './tubes.ts';

export interface FaultRunOptions {
  runs: number;
  /** Impairment proxy arguments; undefined = no proxy (plain loopback, e.g. inside an nft-lossy namespace). */
  proxyArgs: string[] | undefined;
  timeoutMs: number;
  onRun?(run: number, readyMs: number | undefined, detail: Record<string, unknown>): void;
}

/**
 * For baselines: removes patches from the installer's list for this process (`true` = all of them, i.e.
 * stock werift). Returns the names removed.
 */
export function withoutPatches(names: readonly string[] | true): string[] {
  const list = WERIFT_PATCHES as WeriftPatch[];
  const removed: string[] = [];
  for (let i = list.length - 1; i >= 0; i--) {
    const p = list[i] as WeriftPatch;
    if (names === true || names.includes(p.name)) {
      removed.push(p.name);
      list.splice(i, 1);
    }
  }
  return removed;
}

export async function faultRuns(opts: FaultRunOptions): Promise<Array<number | undefined>> {
  const echo = await echoServer();
  const times: Array<number | undefined> = [];
  try {
    for (let i = 0; i < opts.runs; i++) {
      const server = new TubeRegistry({ ...LOOPBACK });
      const client = new TubeRegistry({ ...LOOPBACK });
      const clientSettings = {
        conversationType: 'tunnel',
        target_host: '127.0.0.1',
        target_port: String(echo.port),
      };
      let readyMs: number | undefined;
      const detail: Record<string, unknown> = {};
      try {
        if (opts.proxyArgs) {
          const r = await impairedTubes({
            server,
            client,
            clientSettings,
            proxyArgs: opts.proxyArgs,
            timeoutMs: opts.timeoutMs,
          });
          readyMs = r.readyMs;
          detail['server'] = server.getTubeStatus(r.serverTube);
          detail['client'] = client.getTubeStatus(r.clientTube);
          await Promise.all([server.cleanupAll(), client.cleanupAll()]);
          detail['proxy'] = await r.proxy.close();
        } else {
          const { connectTubes } = await import('../../src/cli/remote.ts');
          const t0 = performance.now();
          try {
            await connectTubes({
              server,
              client,
              clientSettings,
              trickleIce: false,
              timeoutMs: opts.timeoutMs,
            });
            readyMs = performance.now() - t0;
          } catch (err) {
            detail['error'] = (err as Error).message;
          }
        }
      } catch (err) {
        detail['error'] = (err as Error).message;
      } finally {
        await Promise.all([server.cleanupAll(), client.cleanupAll()]);
      }
      times.push(readyMs);
      opts.onRun?.(i, readyMs, detail);
    }
  } finally {
    await echo.close();
  }
  return times;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg: Record<string, string> = {};
  for (const a of process.argv.slice(2)) {
    const [k, ...v] = a.replace(/^--/, '').split('=');
    arg[k as string] = v.join('=');
  }
  if (arg['stock'] !== undefined) console.log(JSON.stringify({ removed: withoutPatches(true) }));
  else if (arg['without'])
    console.log(JSON.stringify({ removed: withoutPatches(arg['without'].split(',')) }));
  const times = await faultRuns({
    runs: Number(arg['runs'] ?? 5),
    proxyArgs: arg['proxy'] !== undefined ? arg['proxy'].split(' ').filter(Boolean) : undefined,
    timeoutMs: Number(arg['timeout'] ?? 10_000),
    onRun: (run, readyMs, detail) =>
      console.log(
        JSON.stringify({ run, readyMs: readyMs === undefined ? null : Math.round(readyMs), ...detail }),
      ),
  });
  console.log(JSON.stringify({ summary: summarize(times) }));
  process.exit(0);
}
