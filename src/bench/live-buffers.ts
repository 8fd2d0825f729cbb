/**
 * `tubes bench live-buffers`: live ArrayBuffer memory while a local reader is stalled (docs/PERFORMANCE.md,
 * "Memory"). Both tubes in this process, a target behind the gateway streaming as fast as the tube lets it, a
 * local client that never reads. Every second a forced GC, then `process.memoryUsage().arrayBuffers` (live
 * Buffer/ArrayBuffer memory, not RSS), and how many bytes the target has written so far (it stops growing once
 * flow control holds it back).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { UsageError } from '../cli/cli-common.ts';
import { connectTubes, LOOPBACK } from '../cli/remote.ts';
import { TubeRegistry } from '../index.ts';
import { type Json, machine, mdTable } from './lib.ts';
import type { BenchContext, BenchDef, BenchOutput, BenchValues } from './types.ts';

const MIB = 2 ** 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A callable `gc()` even when Node was started without --expose-gc. */
function forcedGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function run(values: BenchValues, ctx: BenchContext): Promise<BenchOutput> {
  const seconds = values['seconds'] === undefined ? 10 : Number(values['seconds']);
  if (!Number.isInteger(seconds) || seconds <= 0)
    throw new UsageError('--seconds must be a positive integer');
  const gc = forcedGc();
  const live = (): number => {
    gc();
    return process.memoryUsage().arrayBuffers;
  };

  // the target: endless 64 KiB chunks, as fast as the socket drains
  const chunk = randomBytes(64 * 1024);
  let written = 0;
  const target = net.createServer((s) => {
    s.on('error', () => {});
    const pump = (): void => {
      while (!s.destroyed) {
        written += chunk.length;
        if (!s.write(chunk)) {
          s.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const server = new TubeRegistry(LOOPBACK);
  const client = new TubeRegistry(LOOPBACK);
  const samples: Array<{ s: number; liveMiB: number; targetWrittenMiB: number }> = [];
  let baseline = 0;
  try {
    ctx.progress.update('connecting the tubes');
    const tubes = await connectTubes({
      server,
      client,
      clientSettings: {
        conversationType: 'tunnel',
        target_host: '127.0.0.1',
        target_port: (target.address() as net.AddressInfo).port,
      },
    });
    baseline = live();
    const addr = tubes.listenAddr as string;
    const at = addr.lastIndexOf(':');
    const stalled = net.connect({
      host: addr.slice(0, at).replace(/^\[|\]$/g, ''),
      port: Number(addr.slice(at + 1)),
    });
    stalled.pause();
    stalled.on('error', () => {});
    await sleep(1000);
    for (let s = 1; s <= seconds; s++) {
      ctx.progress.update(`stalled reader: ${s}/${seconds} s`);
      await sleep(1000);
      samples.push({ s, liveMiB: live() / MIB, targetWrittenMiB: written / MIB });
    }
    stalled.destroy();
  } finally {
    await Promise.all([server.cleanupAll(), client.cleanupAll()]);
    await new Promise<void>((r) => target.close(() => r()));
  }
  const maxLiveMiB = Math.max(...samples.map((x) => x.liveMiB));
  const table = mdTable([
    ['s into the stall', 'live ArrayBuffers (MiB)', 'target has written (MiB)'],
    ['before', (baseline / MIB).toFixed(1), '–'],
    ...samples.map((x) => [String(x.s), x.liveMiB.toFixed(1), x.targetWrittenMiB.toFixed(1)]),
  ]);
  const data: Json = { seconds, baselineMiB: baseline / MIB, maxLiveMiB, samples };
  return {
    machine: machine(['werift']),
    data,
    text: `${table.join('\n')}\n\nmax live during the stall: ${maxLiveMiB.toFixed(1)} MiB\n`,
    charts: [],
  };
}

export const bench: BenchDef = {
  name: 'live-buffers',
  summary: 'Live ArrayBuffer memory (forced GC) while a local reader is stalled, both tubes in this process',
  help: `Live ArrayBuffer memory while a local reader is stalled: both tubes in this process, a target streaming as
fast as the tube lets it, a client that never reads. Every second a forced GC, then
process.memoryUsage().arrayBuffers, and how much the target has written (flow control holds it back).

Options:
  --seconds <n>      Seconds observed after a 1 s start (default 10)
`,
  options: { seconds: { type: 'string' } },
  run,
};
