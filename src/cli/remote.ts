/**
 * Two-process harness: `RemoteRegistry` drives a `TubeRegistry` living in a child process (src/cli/child.ts)
 * with the same method names and semantics (every method is async here), and `connectTubes` joins a local
 * and/or remote registry into a connected tube pair. Used by the demo, the tunnel benchmark and tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ErrorCode, TubesError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type {
  CreateTubeOptions,
  CreateTubeResult,
  TubeRegistry,
  TubeRegistryOptions,
} from '../registry/registry.ts';
import type { Signal, SignalCallback } from '../registry/signals.ts';
import type { TubeStatus } from '../registry/tube.ts';
import { forwardedLogLevel, forwardLogLine, fromWireError, siblingModule } from '../registry/wire.ts';
import type { ChildInit, ChildMessage, RemoteMethod } from './wire.ts';

/** Registry options that keep every candidate on 127.0.0.1 (tests, demo, benchmarks). */
export const LOOPBACK: TubeRegistryOptions = {
  hostAddresses: ['127.0.0.1'],
  hostAddressesOnly: true,
  ipv6: false,
};

/** The child entry next to this module, with this module's own extension (.ts from src/, .js from dist/). */
export function childEntry(): string {
  return siblingModule(import.meta.url, 'child');
}

export interface RemoteHarnessOptions {
  /** Extra Node flags for the child, e.g. ['--cpu-prof', '--cpu-prof-dir=prof']. */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** Child log level (default: the logger's `level` when it has one, else 'info'); only with a logger. */
  logLevel?: string;
  /** 'pipe' (default) keeps the child's stderr tail for error messages; 'inherit' shows it live. */
  stderr?: 'pipe' | 'inherit';
  /** stop(): how long the child may take to clean up before it is killed (default 5 s). */
  stopTimeoutMs?: number;
  /**
   * Run the child under this command prefix, e.g. `['ip', 'netns', 'exec', 'ns1']` (the prefix must exec the
   * program so that `pid` and `kill` reach the child itself).
   */
  wrap?: string[];
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

const STDERR_TAIL = 4096;

/**
 * A TubeRegistry in a child process. Construct it as a TubeRegistry (options go to the child at spawn; a
 * `logger` stays here and receives the child's log records), then call the same methods, all async.
 * Errors come back as TubesError with the child's code and message. `stop()` ends the child.
 */
export class RemoteRegistry {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #signalHandlers = new Map<number, SignalCallback>();
  readonly #logger: Logger | undefined;
  readonly #stopTimeoutMs: number;
  readonly #ready: Promise<void>;
  readonly #exited: Promise<void>;
  #nextId = 1;
  #stderrTail = '';
  #exitError: TubesError | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: TubeRegistryOptions = {}, harness: RemoteHarnessOptions = {}) {
    const { logger, ...registry } = options;
    this.#logger = logger;
    this.#stopTimeoutMs = harness.stopTimeoutMs ?? 5_000;
    const init: ChildInit = {
      registry,
      ...(logger ? { logLevel: forwardedLogLevel(logger, harness.logLevel) } : {}),
    };
    const entry = childEntry();
    const flags = [...(harness.execArgv ?? [])];
    if (entry.endsWith('.ts') && !process.features.typescript) flags.push('--experimental-strip-types');
    const [cmd, ...prefixArgs] = [...(harness.wrap ?? []), process.execPath];
    this.#child = spawn(cmd as string, [...prefixArgs, ...flags, entry, JSON.stringify(init)], {
      stdio: ['pipe', 'pipe', harness.stderr ?? 'pipe'],
      env: harness.env ?? process.env,
    });
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (text: string) => {
      this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL);
    });
    this.#child.stdin?.on('error', () => {}); // EPIPE after the child died: reported through 'exit'
    let readyResolve: () => void = () => {};
    let readyReject: (err: Error) => void = () => {};
    this.#ready = new Promise((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.#ready.catch(() => {}); // reported through ready() and every call
    let exitedResolve: () => void = () => {};
    this.#exited = new Promise((r) => (exitedResolve = r));
    const finish = (err: TubesError): void => {
      this.#exitError ??= err;
      for (const p of this.#pending.values()) p.reject(this.#exitError);
      this.#pending.clear();
      readyReject(this.#exitError); // no-op once ready
      exitedResolve();
    };
    this.#child.once('close', (code, signal) => {
      const why = signal ? `signal ${signal}` : `code ${code}`;
      const tail = this.#stderrTail.trim();
      finish(
        new TubesError(ErrorCode.CLOSED, `Remote registry child exited (${why})${tail ? `: ${tail}` : ''}`),
      );
    });
    this.#child.on('error', (err) => {
      // A failed spawn gets no 'close'; other errors (a failed kill) change nothing here.
      if (this.#child.pid === undefined)
        finish(
          new TubesError(ErrorCode.CLOSED, `Remote registry child failed: ${err.message}`, { cause: err }),
        );
    });
    const lines = createInterface({ input: this.#child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => this.#childOnLine(line, readyResolve));
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Resolves once the child has its registry up; rejects if it exited first. Calls need not wait for it. */
  ready(): Promise<void> {
    return this.#ready;
  }

  #childOnLine(line: string, onReady: () => void): void {
    let msg: ChildMessage;
    try {
      msg = JSON.parse(line) as ChildMessage;
    } catch {
      process.stderr.write(`[tubes child ${this.pid}] ${line}\n`);
      return;
    }
    if ('event' in msg) {
      if (msg.event === 'ready') onReady();
      else if (msg.event === 'signal') this.#signalHandlers.get(msg.call)?.(msg.signal);
      else if (msg.event === 'log') this.#log(msg.line);
      return;
    }
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    if (msg.ok) pending.resolve(msg.result);
    else pending.reject(fromWireError(msg.error));
  }

  #log(line: string): void {
    if (this.#logger) forwardLogLine(this.#logger, line, { childPid: this.pid });
  }

  #call<T>(method: RemoteMethod, args: unknown[], onSignal?: SignalCallback): Promise<T> {
    if (this.#exitError) return Promise.reject(this.#exitError);
    if (this.#stopping && method !== 'stop') {
      return Promise.reject(new TubesError(ErrorCode.CLOSED, 'Remote registry is stopping'));
    }
    const id = this.#nextId++;
    if (onSignal) this.#signalHandlers.set(id, onSignal);
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const req = { id, method, args, ...(onSignal ? { signals: true } : {}) };
      this.#child.stdin?.write(`${JSON.stringify(req)}\n`);
    });
  }

  createTube(opts: CreateTubeOptions): Promise<CreateTubeResult> {
    const { onSignal, ...rest } = opts;
    return this.#call('createTube', [rest], onSignal);
  }

  setRemoteDescription(tubeId: string, sdpBase64: string, isAnswer = false): Promise<string | undefined> {
    return this.#call('setRemoteDescription', [tubeId, sdpBase64, isAnswer]);
  }

  /** As TubeRegistry: never rejects for an unknown tube (but does when the child is gone). */
  addIceCandidate(tubeId: string, candidate: string): Promise<void> {
    return this.#call('addIceCandidate', [tubeId, candidate]);
  }

  closeTube(tubeId: string, reason?: number): Promise<void> {
    return this.#call('closeTube', reason === undefined ? [tubeId] : [tubeId, reason]);
  }

  closeConnection(conversationId: string, reason?: number): Promise<void> {
    return this.#call('closeConnection', reason === undefined ? [conversationId] : [conversationId, reason]);
  }

  getTubeStatus(tubeId: string): Promise<TubeStatus> {
    return this.#call('getTubeStatus', [tubeId]);
  }

  getConnectionState(tubeId: string): Promise<string> {
    return this.#call('getConnectionState', [tubeId]);
  }

  tubeFound(tubeId: string): Promise<boolean> {
    return this.#call('tubeFound', [tubeId]);
  }

  getConnectionStats(tubeId: string): ReturnType<TubeRegistry['getConnectionStats']> {
    return this.#call('getConnectionStats', [tubeId]);
  }

  getLiveStats(conversationId: string): Promise<Record<string, unknown> | null> {
    return this.#call('getLiveStats', [conversationId]);
  }

  cleanupAll(): Promise<void> {
    return this.#call('cleanupAll', []);
  }

  /** Closes every tube in the child, ends it, and waits for it to exit (killed after `stopTimeoutMs`). */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    if (!this.#exitError) {
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), this.#stopTimeoutMs);
      try {
        await this.#call('stop', []);
      } catch {
        // exited meanwhile: nothing left to stop
      }
      await this.#exited;
      clearTimeout(timer);
    }
    await this.#exited;
    this.#signalHandlers.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

// ---- joining two registries into a connected pair ---------------------------------------------------

/** What connectTubes needs of a registry: a TubeRegistry or a RemoteRegistry. */
export interface TubeEndpoint {
  createTube(opts: CreateTubeOptions): Promise<CreateTubeResult>;
  setRemoteDescription(tubeId: string, sdpBase64: string, isAnswer?: boolean): Promise<string | undefined>;
  addIceCandidate(tubeId: string, candidate: string): Promise<void>;
  getTubeStatus(tubeId: string): TubeStatus | Promise<TubeStatus>;
}

export interface ConnectTubesOptions<S extends TubeEndpoint, C extends TubeEndpoint> {
  /** Offerer: creates the tube (and its local listener with `local_listen_addr`). */
  server: S;
  /** Answerer (gateway): dials the target for every connection. */
  client: C;
  serverSettings?: Record<string, unknown>;
  clientSettings: Record<string, unknown>;
  conversationId?: string;
  /** Default true. */
  trickleIce?: boolean;
  /** Both tubes 'ready' within this (default 15 s), else TubesError TIMEOUT. */
  timeoutMs?: number;
  /** Every signal of either tube, after relaying. */
  onSignal?(side: 'server' | 'client', signal: Signal): void;
}

export interface ConnectedTubes<S extends TubeEndpoint, C extends TubeEndpoint> {
  server: S;
  client: C;
  serverTube: string;
  clientTube: string;
  /** The server tube's local listener (`actualLocalListenAddr`), if it has one. */
  listenAddr: string | undefined;
  serverSignals: Signal[];
  clientSignals: Signal[];
  /** From the server's createTube call until both tubes report 'ready', in ms (includes signalling). */
  createToReadyMs: number;
}

/**
 * Creates a server tube on `server` and a client tube on `client`, relays the offer/answer and trickle
 * candidates both ways (candidates that arrive before the other tube's id is known are buffered), and
 * resolves when both tubes are 'ready'. The caller owns both registries and their cleanup.
 */
export async function connectTubes<S extends TubeEndpoint, C extends TubeEndpoint>(
  opts: ConnectTubesOptions<S, C>,
): Promise<ConnectedTubes<S, C>> {
  const { server, client } = opts;
  const trickle = opts.trickleIce ?? true;
  const conversationId = opts.conversationId ?? 'conv-1';
  const serverSignals: Signal[] = [];
  const clientSignals: Signal[] = [];
  const toClient = new CandidateRelay((tubeId, c) => client.addIceCandidate(tubeId, c));
  const toServer = new CandidateRelay((tubeId, c) => server.addIceCandidate(tubeId, c));
  const t0 = performance.now();
  const s = await server.createTube({
    conversationId,
    settings: opts.serverSettings ?? { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
    trickleIce: trickle,
    onSignal: (sig) => {
      serverSignals.push(sig);
      if (sig.kind === 'icecandidate') toClient.push(sig.data);
      opts.onSignal?.('server', sig);
    },
  });
  toServer.target(s.tubeId);
  if (s.offer === undefined) throw new TubesError(ErrorCode.WEBRTC, 'Server tube returned no offer');
  const c = await client.createTube({
    conversationId,
    settings: opts.clientSettings,
    trickleIce: trickle,
    offer: s.offer,
    onSignal: (sig) => {
      clientSignals.push(sig);
      if (sig.kind === 'icecandidate') toServer.push(sig.data);
      opts.onSignal?.('client', sig);
    },
  });
  if (c.answer === undefined) throw new TubesError(ErrorCode.WEBRTC, 'Client tube returned no answer');
  toClient.target(c.tubeId);
  await server.setRemoteDescription(s.tubeId, c.answer, true);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  await waitReady(server, s.tubeId, client, c.tubeId, timeoutMs);
  const createToReadyMs = performance.now() - t0;
  await Promise.all([toClient.settled(), toServer.settled()]);
  return {
    server,
    client,
    serverTube: s.tubeId,
    clientTube: c.tubeId,
    listenAddr: s.actualLocalListenAddr,
    serverSignals,
    clientSignals,
    createToReadyMs,
  };
}

/** Forwards candidates to one tube, holding them until that tube's id is known. */
class CandidateRelay {
  readonly #add: (tubeId: string, candidate: string) => Promise<void>;
  #tubeId: string | undefined;
  #early: string[] = [];
  #inFlight: Promise<void> = Promise.resolve();

  constructor(add: (tubeId: string, candidate: string) => Promise<void>) {
    this.#add = add;
  }

  push(candidate: string): void {
    if (this.#tubeId === undefined) this.#early.push(candidate);
    else this.#send(this.#tubeId, candidate);
  }

  target(tubeId: string): void {
    this.#tubeId = tubeId;
    const early = this.#early;
    this.#early = [];
    for (const c of early) this.#send(tubeId, c);
  }

  #send(tubeId: string, candidate: string): void {
    // In order, and never an unhandled rejection (a registry that is gone shows up as a failed connect).
    this.#inFlight = this.#inFlight.then(() => this.#add(tubeId, candidate)).catch(() => {});
  }

  settled(): Promise<void> {
    return this.#inFlight;
  }
}

async function waitReady(
  a: TubeEndpoint,
  aTube: string,
  b: TubeEndpoint,
  bTube: string,
  timeoutMs: number,
): Promise<void> {
  const until = performance.now() + timeoutMs;
  let aReady = false;
  let bReady = false;
  for (;;) {
    if (!aReady) aReady = (await a.getTubeStatus(aTube)) === 'ready';
    if (!bReady) bReady = (await b.getTubeStatus(bTube)) === 'ready';
    if (aReady && bReady) return;
    if (performance.now() > until) {
      throw new TubesError(
        ErrorCode.TIMEOUT,
        `Tubes not ready after ${timeoutMs} ms (server ${aReady ? 'ready' : 'not ready'}, client ${bReady ? 'ready' : 'not ready'})`,
      );
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}
