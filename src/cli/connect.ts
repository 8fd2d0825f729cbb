/**
 * `tubes connect <url>`: the offerer side of a tube to a `tubes gateway`, listening locally for TCP
 * clients (`--local`) or as a SOCKS5 server (`--socks`). Reconnects with backoff when the tube is lost for
 * good; ICE restarts of a live tube go through the same session (PATCH). `--signal stdio` swaps the HTTP
 * exchange for one-line tokens.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Logger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import { SignallingError } from '../protocol/signalling-error.ts';
import { TubeRegistry } from '../registry/registry.ts';
import type { Signal } from '../registry/signals.ts';
import { decodeSdpBase64 } from '../webrtc/sdp.ts';
import {
  cliLogger,
  formatTraffic,
  ICE_HELP,
  ICE_OPTIONS,
  parseHostPort,
  registryOptions,
  startStatus,
  traffic,
  UsageError,
  untilSignal,
} from './cli-common.ts';
import { decodeSdpFrag, encodeSdpFrag } from './sdpfrag.ts';
import { SignallingClient } from './signalling-client.ts';
import { decodeToken, encodeToken } from './stdio-token.ts';

export const CONNECT_HELP = `Usage: tubes connect <gateway-url> [options]
       tubes connect --signal stdio [options]

Opens a tube to a "tubes gateway" and listens locally; every local client is tunnelled to the gateway's
service. Prints "listening <address>" once the tube is up.

Local side (one):
  --local <host:port>        Accept TCP clients here (loopback only; port 0 = any free port)
  --socks <host:port>        Run a SOCKS5 server here (the gateway must be started with --socks)
  --type <conversationType>  Conversation type for --local (default: what the gateway reports; stdio: tunnel)

Signalling:
  --token <token>            Bearer token (env TUBES_TOKEN)
  --ca <file>                Extra CA certificate (PEM) for an HTTPS gateway
  --signal <http|stdio>      http (default) or stdio: prints the offer as one line, reads the answer line
  --once                     Do not reconnect: exit 4 when the tube is lost

ICE:
${ICE_HELP}
Other:
  --log-level <level>        pino level for the JSON log lines on stderr (default info)
  -h, --help                 Show this help

Exit codes: 0 stopped by SIGINT/SIGTERM, 1 failure, 2 bad arguments, 3 the gateway refused the token
(401/403), 4 tube lost with --once.
`;

const OPTIONS = {
  local: { type: 'string' },
  socks: { type: 'string' },
  type: { type: 'string' },
  token: { type: 'string' },
  ca: { type: 'string' },
  signal: { type: 'string' },
  once: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...ICE_OPTIONS,
} as const;

const READY_TIMEOUT_MS = 30_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;

/** How one exchange (HTTP or stdio) turns our offer into the gateway's answer. */
interface Exchange {
  /** trickle ICE (HTTP) or every candidate in the SDP (stdio). */
  readonly trickle: boolean;
  /** The gateway's conversation type, when it tells. */
  conversationType(): Promise<string | undefined>;
  /** Sends the offer, resolves with the answer (base64). */
  offer(conversationId: string, offer: string): Promise<string>;
  /** Our candidate (trickle only). */
  candidate(candidate: string): void;
  /** The gateway's candidates, while the tube connects (trickle only). */
  remoteCandidates(apply: (c: string) => Promise<void>, done: () => boolean): Promise<void>;
  /** An ICE restart offer (base64) → answer (base64). */
  restart(offer: string): Promise<string>;
  /** The tube is over. */
  end(): Promise<void>;
}

class HttpExchange implements Exchange {
  readonly trickle = true;
  readonly #client: SignallingClient;
  readonly #logger: Logger;
  #session: URL | undefined;
  #queue: string[] = [];
  #sending: Promise<void> = Promise.resolve();

  constructor(client: SignallingClient, logger: Logger) {
    this.#client = client;
    this.#logger = logger;
  }

  async conversationType(): Promise<string | undefined> {
    return (await this.#client.info()).conversationType;
  }

  async offer(conversationId: string, offer: string): Promise<string> {
    const r = await this.#client.create(conversationId, offer);
    this.#session = r.session;
    this.#flush();
    return r.answer;
  }

  candidate(candidate: string): void {
    this.#queue.push(candidate);
    if (this.#session) this.#flush();
  }

  #flush(): void {
    const session = this.#session;
    if (!session || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#sending = this.#sending
      .then(() => this.#client.trickle(session, encodeSdpFrag(batch)))
      .catch((err: unknown) => this.#logger.warn({ err }, 'trickle PATCH failed'));
  }

  async remoteCandidates(apply: (c: string) => Promise<void>, done: () => boolean): Promise<void> {
    const session = this.#session;
    if (!session) return;
    const seen = new Set<string>();
    const until = Date.now() + READY_TIMEOUT_MS;
    while (!done() && Date.now() < until) {
      const list = decodeSdpFrag(await this.#client.candidates(session));
      for (const c of list) {
        if (seen.has(c)) continue;
        seen.add(c);
        await apply(c);
      }
      if (list.includes('')) return;
      await sleep(250);
    }
  }

  async restart(offer: string): Promise<string> {
    if (!this.#session) throw new Error('No session to restart');
    return this.#client.restart(this.#session, offer);
  }

  async end(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session) await this.#client.end(session).catch(() => {});
  }
}

class StdioExchange implements Exchange {
  readonly trickle = false;
  readonly #lines: AsyncIterator<string>;

  constructor(lines: Interface) {
    this.#lines = lines[Symbol.asyncIterator]();
  }

  async conversationType(): Promise<string | undefined> {
    return undefined;
  }

  async offer(conversationId: string, offer: string): Promise<string> {
    process.stdout.write(`${encodeToken({ kind: 'offer', conversationId, sdp: offer })}\n`);
    if (process.stdin.isTTY) process.stderr.write("Paste the gateway's answer line:\n");
    for (;;) {
      const next = await this.#lines.next();
      if (next.done) throw new Error('stdin closed before the answer arrived');
      if (next.value.trim() === '') continue;
      const answer = decodeToken(next.value, 'answer');
      if (answer.conversationId !== conversationId) {
        throw new Error(`The answer is for conversation ${answer.conversationId}, not ${conversationId}`);
      }
      return answer.sdp;
    }
  }

  candidate(): void {}

  async remoteCandidates(): Promise<void> {}

  async restart(): Promise<string> {
    throw new Error('ICE restart needs HTTP signalling');
  }

  async end(): Promise<void> {}
}

export async function connect(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
  if (values.help) {
    process.stdout.write(CONNECT_HELP);
    return 0;
  }
  const stdio = (values.signal ?? 'http') === 'stdio';
  if (values.signal !== undefined && values.signal !== 'http' && values.signal !== 'stdio')
    throw new UsageError('--signal must be http or stdio');
  if ((values.local === undefined) === (values.socks === undefined))
    throw new UsageError('Give exactly one of --local <host:port> or --socks <host:port>');
  const localText = (values.local ?? values.socks) as string;
  const local = parseHostPort(localText, values.local ? '--local' : '--socks', true);
  const logger = cliLogger(values['log-level'] ?? 'info');
  let exchange: Exchange;
  let lines: Interface | undefined;
  if (stdio) {
    if (positionals.length > 0) throw new UsageError('--signal stdio takes no URL');
    lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    exchange = new StdioExchange(lines);
  } else {
    if (positionals.length !== 1) throw new UsageError('Give the gateway URL, e.g. http://10.0.0.1:7480');
    const token = values.token ?? process.env['TUBES_TOKEN'];
    if (!token) throw new UsageError('--token (or env TUBES_TOKEN) is required for HTTP signalling');
    let client: SignallingClient;
    try {
      client = new SignallingClient(positionals[0] as string, {
        token,
        ...(values.ca ? { ca: readFileSync(values.ca) } : {}),
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    exchange = new HttpExchange(client, logger);
  }
  const registry = new TubeRegistry(registryOptions(values, logger));
  const stopped = untilSignal();
  try {
    return await runConnect({
      registry,
      exchange,
      logger,
      socks: values.socks !== undefined,
      type: values.type,
      local: `${local.host.includes(':') ? `[${local.host}]` : local.host}:${local.port}`,
      once: values.once === true,
      stopped,
    });
  } finally {
    lines?.close();
    await registry.cleanupAll();
  }
}

interface RunOptions {
  registry: TubeRegistry;
  exchange: Exchange;
  logger: Logger;
  socks: boolean;
  type: string | undefined;
  local: string;
  once: boolean;
  stopped: Promise<NodeJS.Signals>;
}

interface Attempt {
  tubeId: string;
  conversationId: string;
  localAddr: string;
  /** Resolves with a description when the tube is lost for good. */
  lost: Promise<string>;
}

async function runConnect(o: RunOptions): Promise<number> {
  let stopping = false;
  void o.stopped.then(() => {
    stopping = true;
  });
  let type = o.type;
  if (!type && !o.socks) {
    try {
      type = (await o.exchange.conversationType()) ?? 'tunnel';
    } catch (err) {
      if (err instanceof SignallingError && (err.status === 401 || err.status === 403)) {
        process.stderr.write(`tubes connect: the gateway refused the token: ${err.message}\n`);
        return 3;
      }
      throw err;
    }
  }
  let local = o.local;
  let announced = '';
  let backoff = BACKOFF_MIN_MS;
  let current: Attempt | undefined;
  let stopStatus: (() => void) | undefined;
  while (!stopping) {
    try {
      const settings: Record<string, unknown> = o.socks
        ? { conversationType: 'tunnel', socks_mode: true, local_listen_addr: local }
        : { conversationType: type ?? 'tunnel', local_listen_addr: local };
      current = await Promise.race([
        attempt(o, settings),
        o.stopped.then(() => {
          throw new Error('stopped');
        }),
      ]);
      backoff = BACKOFF_MIN_MS;
      local = current.localAddr; // keep the port across reconnects
      if (announced !== local) {
        process.stdout.write(`listening ${local}\n`);
        announced = local;
      }
      o.logger.info({ local, tubeId: current.tubeId }, 'tube ready');
      const a = current;
      stopStatus ??= startStatus(() => {
        const t = traffic(o.registry, [a.conversationId]);
        const status = o.registry.tubeFound(a.tubeId) ? o.registry.getTubeStatus(a.tubeId) : 'closed';
        return { line: `${status}  ${local}  ${formatTraffic(t)}`, fields: { status, local, ...t } };
      }, o.logger);
      const why = await Promise.race([current.lost, o.stopped.then(() => 'stopped')]);
      if (stopping) break;
      o.logger.warn({ why }, 'tube lost');
      await o.exchange.end();
      if (o.registry.tubeFound(current.tubeId)) await o.registry.closeTube(current.tubeId);
      current = undefined;
      if (o.once) {
        stopStatus?.();
        return 4;
      }
    } catch (err) {
      if (stopping) break;
      if (err instanceof SignallingError && (err.status === 401 || err.status === 403)) {
        stopStatus?.();
        process.stderr.write(`tubes connect: the gateway refused the token: ${err.message}\n`);
        return 3;
      }
      o.logger.error({ err }, 'connect attempt failed');
      await o.exchange.end();
      for (const id of o.registry.allTubeIds()) await o.registry.closeTube(id).catch(() => {});
      if (o.once) {
        stopStatus?.();
        process.stderr.write(`tubes connect: ${(err as Error).message}\n`);
        return 1;
      }
    }
    const wait = backoff * (0.8 + Math.random() * 0.4);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    o.logger.info({ waitMs: Math.round(wait) }, 'reconnecting');
    await Promise.race([sleep(wait), o.stopped]);
  }
  stopStatus?.();
  if (current) {
    await o.registry.closeTube(current.tubeId, CloseConnectionReason.Normal).catch(() => {});
    await o.exchange.end();
  }
  return 0;
}

async function attempt(o: RunOptions, settings: Record<string, unknown>): Promise<Attempt> {
  const conversationId = `tubes-${randomUUID()}`;
  let lostResolve: (why: string) => void = () => {};
  const lost = new Promise<string>((r) => {
    lostResolve = r;
  });
  let tubeId = '';
  const onSignal = (signal: Signal): void => {
    if (signal.kind === 'icecandidate') o.exchange.candidate(signal.data);
    else if (signal.kind === 'channel_closed') lostResolve(`channel closed: ${signal.data}`);
    else if (signal.kind === 'connection_state_changed')
      o.logger.info({ state: signal.data }, 'connection state');
    else if (signal.kind === 'ice_restart_offer') {
      o.exchange
        .restart(signal.data)
        .then((answer) => o.registry.setRemoteDescription(tubeId, answer, true))
        .then(() => o.logger.info({ tubeId }, 'ICE restart answered by the gateway'))
        .catch((err: unknown) => o.logger.warn({ err }, 'ICE restart exchange failed'));
    }
  };
  const r = await o.registry.createTube({
    conversationId,
    settings,
    trickleIce: o.exchange.trickle,
    onSignal,
  });
  tubeId = r.tubeId;
  const answer = await o.exchange.offer(conversationId, r.offer as string);
  decodeSdpBase64(answer, 'answer');
  await o.registry.setRemoteDescription(tubeId, answer, true);
  const ready = (): boolean => o.registry.tubeFound(tubeId) && o.registry.getTubeStatus(tubeId) === 'ready';
  void o.exchange
    .remoteCandidates((c) => o.registry.addIceCandidate(tubeId, c), ready)
    .catch((err: unknown) => o.logger.warn({ err }, 'fetching the gateway candidates failed'));
  const until = Date.now() + READY_TIMEOUT_MS;
  while (!ready()) {
    if (Date.now() > until) throw new Error(`The tube was not ready within ${READY_TIMEOUT_MS / 1000} s`);
    if (!o.registry.tubeFound(tubeId)) throw new Error('The tube closed while connecting');
    await sleep(20);
  }
  // A tube can also end without a channel_closed signal reaching us (e.g. the peer connection failed).
  const watch = setInterval(() => {
    if (!o.registry.tubeFound(tubeId)) lostResolve('tube closed');
    else {
      const s = o.registry.getTubeStatus(tubeId);
      if (s === 'closed' || s === 'failed') lostResolve(`tube ${s}`);
    }
  }, 1_000);
  void lost.then(() => clearInterval(watch));
  return { tubeId, conversationId, localAddr: r.actualLocalListenAddr ?? '', lost };
}
