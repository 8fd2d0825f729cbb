/**
 * Fault injection for transport tests: the userspace UDP impairment proxy (scripts/peers/udp-impair-proxy.mjs)
 * put between two tubes by rewriting SDP at the signalling level, and helpers for a private network
 * namespace with nftables loss. No library changes: the offerer's host candidate port is replaced by the
 * proxy's port in the (base64) offer, and the answerer's candidates are withheld, so the offerer learns the
 * answerer as a peer-reflexive candidate behind the proxy and every ICE, DTLS and SCTP packet crosses it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LOOPBACK } from '../../src/cli/remote.ts';
import { TubeRegistry } from '../../src/index.ts';
import { decodeSdpBase64, encodeSdpBase64 } from '../../src/webrtc/sdp.ts';
import { echoServer } from './tubes.ts';

const PROXY = fileURLToPath(new URL('../../scripts/peers/udp-impair-proxy.mjs', import.meta.url));

export interface ProxyStats {
  up: number;
  down: number;
  dropped: number;
}

export interface ImpairProxy {
  port: number;
  /** Stops the proxy and resolves with its final counters. */
  close(): Promise<ProxyStats | undefined>;
}

/** Starts the proxy on 127.0.0.1:0 towards 127.0.0.1:`targetPort` with `args` (e.g. ['--loss=3']). */
export function startImpairProxy(targetPort: number, args: string[], durationS = 120): Promise<ImpairProxy> {
  const child: ChildProcess = spawn(
    process.execPath,
    [PROXY, '--listen=127.0.0.1:0', `--target=127.0.0.1:${targetPort}`, `--duration=${durationS}`, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let final: ProxyStats | undefined;
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  child.stdout?.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`impair proxy did not start: ${out}`));
    }, 10_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.stdout?.on('data', (text: string) => {
      out += text;
      const m = /^final (.*)$/m.exec(out);
      if (m) final = JSON.parse(m[1] as string) as ProxyStats;
      const started = /udp-impair-proxy [\d.]+:(\d+) /.exec(out);
      if (started && timer) {
        clearTimeout(timer);
        resolve({
          port: Number(started[1]),
          close: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
            const kill = setTimeout(() => child.kill('SIGKILL'), 3_000);
            await exited;
            clearTimeout(kill);
            return final;
          },
        });
      }
    });
  });
}

const CANDIDATE = /^a=candidate:(\S+) (\d+) (udp|UDP) (\d+) (\S+) (\d+) typ host(.*)$/;

/** The UDP host candidates (address, port) in an SDP. */
export function hostCandidates(sdp: string): Array<{ address: string; port: number }> {
  const list: Array<{ address: string; port: number }> = [];
  for (const line of sdp.split(/\r?\n/)) {
    const m = CANDIDATE.exec(line);
    if (m) list.push({ address: m[5] as string, port: Number(m[6]) });
  }
  return list;
}

/** Rewrites the port of every UDP host candidate on `address` in an SDP (the media line's port too). */
export function rewriteCandidatePort(sdp: string, address: string, port: number): string {
  return sdp
    .split('\r\n')
    .map((line) => {
      const m = CANDIDATE.exec(line);
      if (!m || m[5] !== address) return line;
      return `a=candidate:${m[1]} ${m[2]} ${m[3]} ${m[4]} ${m[5]} ${port} typ host${m[7]}`;
    })
    .join('\r\n');
}

/** Removes every `a=candidate` line and the end-of-candidates marker. */
export function withoutCandidates(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') && l !== 'a=end-of-candidates')
    .join('\r\n');
}

export interface ImpairedTubes {
  serverTube: string;
  clientTube: string;
  listenAddr: string | undefined;
  /** From the server's createTube call until both tubes were 'ready' (ms), or undefined when they were not. */
  readyMs: number | undefined;
  proxy: ImpairProxy;
}

export interface ImpairedOptions {
  server: TubeRegistry;
  client: TubeRegistry;
  clientSettings: Record<string, unknown>;
  serverSettings?: Record<string, unknown>;
  proxyArgs: string[];
  conversationId?: string;
  /** Both tubes 'ready' within this, else readyMs is undefined (default 10 s). */
  timeoutMs?: number;
}

/**
 * Joins a server tube (offerer) and a client tube (answerer) through the impairment proxy. Non-trickle, so
 * the candidates are inside the SDP and rewriting them is all the signalling-level work. The caller owns the
 * registries; the proxy is returned so that the caller closes it (after the tubes).
 */
export async function impairedTubes(opts: ImpairedOptions): Promise<ImpairedTubes> {
  const conversationId = opts.conversationId ?? 'conv-faults';
  const t0 = performance.now();
  const s = await opts.server.createTube({
    conversationId,
    settings: opts.serverSettings ?? { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
    trickleIce: false,
  });
  const offerSdp = decodeSdpBase64(s.offer);
  const host = hostCandidates(offerSdp).find((c) => c.address === '127.0.0.1');
  if (!host) throw new Error(`offer has no 127.0.0.1 host candidate:\n${offerSdp}`);
  const proxy = await startImpairProxy(host.port, opts.proxyArgs);
  try {
    const offer = encodeSdpBase64(rewriteCandidatePort(offerSdp, '127.0.0.1', proxy.port));
    const c = await opts.client.createTube({
      conversationId,
      settings: opts.clientSettings,
      trickleIce: false,
      offer,
    });
    const answer = encodeSdpBase64(withoutCandidates(decodeSdpBase64(c.answer)));
    await opts.server.setRemoteDescription(s.tubeId, answer, true);
    const until = t0 + (opts.timeoutMs ?? 10_000);
    let readyMs: number | undefined;
    while (performance.now() < until) {
      if (
        opts.server.getTubeStatus(s.tubeId) === 'ready' &&
        opts.client.getTubeStatus(c.tubeId) === 'ready'
      ) {
        readyMs = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return {
      serverTube: s.tubeId,
      clientTube: c.tubeId,
      listenAddr: s.actualLocalListenAddr,
      readyMs,
      proxy,
    };
  } catch (err) {
    await proxy.close();
    throw err;
  }
}

/**
 * `impairedTubes` on two fresh loopback registries, the client tube dialing a local echo server (a tunnel).
 * Each closer (echo server, proxy, both registries) goes to `defer` as soon as it exists: run them last first.
 */
export async function impairedEchoTubes(
  proxyArgs: string[],
  timeoutMs: number,
  defer: (closer: () => Promise<unknown> | unknown) => void,
): Promise<{ server: TubeRegistry; client: TubeRegistry; pair: ImpairedTubes }> {
  const echo = await echoServer();
  defer(() => echo.close());
  const server = new TubeRegistry({ ...LOOPBACK });
  const client = new TubeRegistry({ ...LOOPBACK });
  const pair = await impairedTubes({
    server,
    client,
    clientSettings: {
      conversationType: 'tunnel',
      target_host: '127.0.0.1',
      target_port: String(echo.port),
    },
    proxyArgs,
    timeoutMs,
  });
  defer(() => pair.proxy.close());
  defer(() => Promise.all([server.cleanupAll(), client.cleanupAll()]));
  return { server, client, pair };
}

/** Summary of a series of establishment times (ms; undefined = failed). */
export function summarize(times: Array<number | undefined>): {
  runs: number;
  ok: number;
  medianMs: number | undefined;
  maxMs: number | undefined;
} {
  const ok = times.filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  return {
    runs: times.length,
    ok: ok.length,
    medianMs: ok.length ? Math.round(ok[Math.floor(ok.length / 2)] as number) : undefined,
    maxMs: ok.length ? Math.round(ok[ok.length - 1] as number) : undefined,
  };
}
