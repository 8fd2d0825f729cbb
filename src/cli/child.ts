/**
 * Child entry of the two-process harness: one TubeRegistry driven over stdin/stdout JSON lines
 * (see wire.ts). Spawned by `RemoteRegistry`; not meant to be run by hand. Nothing but protocol lines may
 * reach stdout, so console output is sent to stderr.
 */
import { createInterface } from 'node:readline';
import { type CreateTubeOptions, TubeRegistry } from '../registry/registry.ts';
import { forwardingLogger, toWireError } from '../registry/wire.ts';
import {
  type ChildInit,
  type ChildMessage,
  forwardToRegistry,
  isRemoteMethod,
  type WireRequest,
} from './wire.ts';

function send(message: ChildMessage): void {
  // stdout is a pipe: writes are synchronous on Linux, so nothing is lost when the process exits.
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

console.log = console.error;
console.info = console.error;

const init = JSON.parse(process.argv[2] ?? '{}') as ChildInit;
const logger = forwardingLogger(init.logLevel, send);
const registry = new TubeRegistry({ ...init.registry, ...(logger ? { logger } : {}) });

let stopping: Promise<void> | undefined;
function stop(): Promise<void> {
  stopping ??= registry.cleanupAll().catch(() => {});
  return stopping;
}

async function call(req: WireRequest): Promise<unknown> {
  if (req.method === 'createTube') {
    const opts = { ...(req.args[0] as CreateTubeOptions) };
    if (req.signals) opts.onSignal = (signal) => send({ event: 'signal', call: req.id, signal });
    return registry.createTube(opts);
  }
  if (req.method === 'stop') return stop();
  return forwardToRegistry(registry, req.method, req.args)?.result;
}

async function inputOnLine(line: string): Promise<void> {
  let req: WireRequest;
  try {
    req = JSON.parse(line) as WireRequest;
  } catch {
    console.error(`tubes child: ignoring a line that is not JSON: ${line.slice(0, 200)}`);
    return;
  }
  if (!isRemoteMethod(req.method) || !Array.isArray(req.args)) {
    send({
      id: req.id,
      ok: false,
      error: { name: 'Error', message: `Unknown method: ${String(req.method)}` },
    });
    return;
  }
  try {
    const result = await call(req);
    send({ id: req.id, ok: true, ...(result !== undefined ? { result } : {}) });
  } catch (err) {
    send({ id: req.id, ok: false, error: toWireError(err) });
  }
  if (req.method === 'stop') process.exit(0);
}

const input = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
input.on('line', (line) => void inputOnLine(line));
// The parent went away (or closed our stdin): clean up and leave.
input.on('close', () => void stop().then(() => process.exit(0)));

logger?.debug({ pid: process.pid }, 'remote registry child ready');
send({ event: 'ready', pid: process.pid });
