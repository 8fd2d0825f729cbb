/**
 * `tubes gateway`: answers tubes for one service — a TCP target, a SOCKS5 gateway with allow-lists, or a
 * guacd connection type — with offers taken over HTTP(S) (src/cli/signalling-server.ts) or as one-line
 * tokens on stdin (`--signal stdio`).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { Logger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import { TubeRegistry } from '../registry/registry.ts';
import {
  cliLogger,
  formatTraffic,
  ICE_HELP,
  ICE_OPTIONS,
  parseHostPort,
  positiveInt,
  registryOptions,
  startStatus,
  traffic,
  UsageError,
  untilSignal,
} from './cli-common.ts';
import { SignallingServer } from './signalling-server.ts';
import { decodeToken, encodeToken } from './stdio-token.ts';
import { defaultWebRoot, webAssets } from './web-assets.ts';

export const GATEWAY_HELP = `Usage: tubes gateway <service> [options]

Answers tubes from "tubes connect" (or any host speaking the same signalling) for one service.

Service (exactly one):
  --target <host:port>       Forward every connection to this TCP address
  --socks                    Be a SOCKS5 gateway: dial what the client asks for, within the allow-lists
    --allow-host <pattern>   Destinations allowed (repeatable): name, *.suffix, IP, CIDR (default: none)
    --allow-port <ports>     Ports allowed (repeatable): 443, 8000-8100 (default: all)
  --guacd <host:port>        Drive this guacd for each connection
    --protocol <name>        rdp | vnc | ssh | telnet | … (required with --guacd)
    --param <key=value>      A guacd connection parameter (repeatable), e.g. hostname=10.0.0.5
    --web                    Also serve a remote-desktop page at / (HTTP signalling only; docs/BROWSER.md)

Signalling:
  --signal <http|stdio>      http (default): WHIP-shaped HTTP API at /tubes; stdio: one-line tokens
  --listen <host:port>       HTTP(S) address (default 127.0.0.1:7480; loopback unless told otherwise)
  --token <token>            Bearer token a client must send (repeatable; env TUBES_TOKEN). One is
                             generated and printed when none is given
  --cert <file> --key <file> Serve HTTPS with this certificate and key (PEM)
  --max-sessions-per-token <n>    (default 16)
  --max-sessions-per-address <n>  (default 16)
  --max-body <bytes>         Largest request body (default 65536)

ICE:
${ICE_HELP}
Other:
  --log-level <level>        pino level for the JSON log lines on stderr (default info)
  -h, --help                 Show this help

Exit codes: 0 stopped by SIGINT/SIGTERM (every tube closed, peers told AdminClosed), 1 failure
(e.g. the address is in use), 2 bad arguments.
`;

const OPTIONS = {
  target: { type: 'string' },
  socks: { type: 'boolean' },
  'allow-host': { type: 'string', multiple: true },
  'allow-port': { type: 'string', multiple: true },
  guacd: { type: 'string' },
  protocol: { type: 'string' },
  param: { type: 'string', multiple: true },
  web: { type: 'boolean' },
  signal: { type: 'string' },
  listen: { type: 'string' },
  token: { type: 'string', multiple: true },
  cert: { type: 'string' },
  key: { type: 'string' },
  'max-sessions-per-token': { type: 'string' },
  'max-sessions-per-address': { type: 'string' },
  'max-body': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...ICE_OPTIONS,
} as const;

export interface GatewayService {
  /** 'tunnel' | 'socks' | 'guacd' */
  service: string;
  settings: Record<string, unknown>;
}

/** The gateway tubes' settings for the chosen service (the original's keys). */
export function gatewayService(values: {
  target?: string | undefined;
  socks?: boolean | undefined;
  'allow-host'?: string[] | undefined;
  'allow-port'?: string[] | undefined;
  guacd?: string | undefined;
  protocol?: string | undefined;
  param?: string[] | undefined;
}): GatewayService {
  const chosen = [values.target !== undefined, values.socks === true, values.guacd !== undefined].filter(
    Boolean,
  );
  if (chosen.length !== 1) throw new UsageError('Choose exactly one service: --target, --socks or --guacd');
  if (values.target !== undefined) {
    const t = parseHostPort(values.target, '--target');
    return {
      service: 'tunnel',
      settings: { conversationType: 'tunnel', target_host: t.host, target_port: t.port },
    };
  }
  if (values.socks) {
    const hosts = values['allow-host'] ?? [];
    const ports = values['allow-port'] ?? [];
    return {
      service: 'socks',
      settings: {
        conversationType: 'tunnel',
        socks_mode: true,
        ...(hosts.length > 0 ? { allowed_hosts: hosts.join(',') } : {}),
        ...(ports.length > 0 ? { allowed_ports: ports.join(',') } : {}),
      },
    };
  }
  const g = parseHostPort(values.guacd as string, '--guacd');
  if (!values.protocol) throw new UsageError('--guacd needs --protocol (rdp, vnc, ssh, telnet, …)');
  const params: Record<string, string> = {};
  for (const p of values.param ?? []) {
    const eq = p.indexOf('=');
    if (eq < 1) throw new UsageError(`--param must be key=value, got ${JSON.stringify(p)}`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return {
    service: 'guacd',
    settings: {
      conversationType: values.protocol,
      guacd: { guacd_host: g.host, guacd_port: g.port },
      guacd_params: params,
    },
  };
}

export async function gateway(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: OPTIONS, strict: true });
  if (values.help) {
    process.stdout.write(GATEWAY_HELP);
    return 0;
  }
  const service = gatewayService(values);
  const mode = values.signal ?? 'http';
  if (mode !== 'http' && mode !== 'stdio') throw new UsageError('--signal must be http or stdio');
  if (values.web && (service.service !== 'guacd' || mode !== 'http'))
    throw new UsageError('--web needs --guacd and HTTP signalling (the page is a remote desktop)');
  const webRoot = values.web ? defaultWebRoot() : undefined;
  if (values.web && webRoot === undefined)
    throw new UsageError('--web: the page is not built (npm run build writes dist/browser/web)');
  const logger = cliLogger(values['log-level'] ?? 'info');
  const registry = new TubeRegistry(registryOptions(values, logger));
  // Settings are checked once, before anything listens (a bad --protocol is a usage error).
  try {
    await registry
      .createTube({ conversationId: 'check', settings: service.settings, trickleIce: true })
      .then((r) => registry.closeTube(r.tubeId));
  } catch (err) {
    await registry.cleanupAll();
    throw new UsageError((err as Error).message);
  }
  if (mode === 'stdio') return stdioGateway(registry, service, logger);
  return httpGateway(registry, service, logger, { ...values, webRoot });
}

async function httpGateway(
  registry: TubeRegistry,
  service: GatewayService,
  logger: Logger,
  values: {
    listen?: string | undefined;
    token?: string[] | undefined;
    cert?: string | undefined;
    key?: string | undefined;
    'max-sessions-per-token'?: string | undefined;
    'max-sessions-per-address'?: string | undefined;
    'max-body'?: string | undefined;
    webRoot?: string | undefined;
  },
): Promise<number> {
  const listen = parseHostPort(values.listen ?? '127.0.0.1:7480', '--listen', true);
  let tokens = values.token ?? (process.env['TUBES_TOKEN'] ? [process.env['TUBES_TOKEN']] : []);
  const generated = tokens.length === 0;
  if (generated) tokens = [randomBytes(24).toString('base64url')];
  if ((values.cert === undefined) !== (values.key === undefined))
    throw new UsageError('--cert and --key go together');
  const signalling = new SignallingServer({
    registry,
    settings: service.settings,
    service: service.service,
    tokens,
    logger,
    maxSessionsPerToken: positiveInt('max-sessions-per-token', values['max-sessions-per-token'], 16),
    maxSessionsPerAddress: positiveInt('max-sessions-per-address', values['max-sessions-per-address'], 16),
    maxBodyBytes: positiveInt('max-body', values['max-body'], 64 * 1024),
  });
  const web = values.webRoot !== undefined ? webAssets(values.webRoot) : undefined;
  const handle: http.RequestListener = web
    ? (req, res) => {
        if (!web(req, res)) signalling.handle(req, res);
      }
    : signalling.handle;
  const tls = values.cert !== undefined;
  const server = tls
    ? https.createServer(
        { cert: readFileSync(values.cert as string), key: readFileSync(values.key as string) },
        handle,
      )
    : http.createServer(handle);
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
  } catch (err) {
    await registry.cleanupAll();
    process.stderr.write(
      `tubes gateway: cannot listen on ${values.listen ?? '127.0.0.1:7480'}: ${(err as Error).message}\n`,
    );
    return 1;
  }
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  const url = `${tls ? 'https' : 'http'}://${host}:${a.port}/tubes`;
  process.stdout.write(`gateway ${url} (${service.service})\n`);
  if (web) process.stdout.write(`web ${url.slice(0, -'/tubes'.length)}/\n`);
  if (generated) process.stdout.write(`token ${tokens[0]}\n`);
  logger.info({ url, service: service.service, generatedToken: generated }, 'gateway listening');
  const stopStatus = startStatus(() => {
    const t = traffic(registry, signalling.conversations());
    return {
      line: `gateway ${url}  sessions ${signalling.sessionCount}  ${formatTraffic(t)}`,
      fields: { sessions: signalling.sessionCount, ...t },
    };
  }, logger);
  const sig = await untilSignal();
  stopStatus();
  logger.info({ signal: sig }, 'gateway stopping');
  server.close();
  server.closeAllConnections();
  await signalling.stop(CloseConnectionReason.AdminClosed);
  await registry.cleanupAll();
  return 0;
}

async function stdioGateway(
  registry: TubeRegistry,
  service: GatewayService,
  logger: Logger,
): Promise<number> {
  const conversations: string[] = [];
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    void (async () => {
      try {
        const offer = decodeToken(line, 'offer');
        const r = await registry.createTube({
          conversationId: offer.conversationId,
          settings: service.settings,
          trickleIce: false,
          offer: offer.sdp,
        });
        conversations.push(offer.conversationId);
        process.stdout.write(
          `${encodeToken({
            kind: 'answer',
            conversationId: offer.conversationId,
            sdp: r.answer as string,
            conversationType: String(service.settings['conversationType']),
          })}\n`,
        );
        logger.info({ tubeId: r.tubeId, conversationId: offer.conversationId }, 'answered');
      } catch (err) {
        logger.error({ err }, 'offer refused');
        process.stderr.write(`tubes gateway: ${(err as Error).message}\n`);
      }
    })();
  });
  const stopStatus = startStatus(() => {
    const t = traffic(registry, conversations);
    return {
      line: `gateway (stdio)  tubes ${registry.activeTubeCount()}  ${formatTraffic(t)}`,
      fields: { ...t },
    };
  }, logger);
  const sig = await untilSignal();
  stopStatus();
  logger.info({ signal: sig }, 'gateway stopping');
  lines.close();
  for (const id of registry.allTubeIds()) await registry.closeTube(id, CloseConnectionReason.AdminClosed);
  await registry.cleanupAll();
  return 0;
}
