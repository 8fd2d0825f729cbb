/**
 * The page's side of the gateway's WHIP-shaped HTTP signalling (docs/CLI.md, "The HTTP API"): POST the
 * offer (`Tubes-Conversation-Id` header, `application/sdp`), PATCH our candidates as
 * `application/trickle-ice-sdpfrag`, GET the gateway's late candidates, DELETE the session when done.
 * Applications with their own signalling use BrowserTube directly (docs/BROWSER.md).
 */

import { SignallingError } from '../protocol/signalling-error.ts';
import type { RtcConfiguration } from './dom.ts';
import { BrowserTube, type BrowserTubeOptions } from './tube.ts';

export { SignallingError };

type Fetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; keepalive?: boolean },
) => Promise<{
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

export interface GatewayConnectOptions {
  /** The gateway's signalling URL, e.g. `https://gw.example/tubes` (relative URLs resolve against the page). */
  url: string;
  /** The bearer token of the gateway. */
  token: string;
  /** Data-channel label / conversation id (default `browser-<random>`). */
  conversationId?: string;
  rtcConfiguration?: RtcConfiguration;
  /** Other BrowserTube options. */
  tube?: Omit<BrowserTubeOptions, 'conversationId' | 'rtcConfiguration'>;
  /** How long to keep asking for the gateway's candidates (default 10 s) and how often (default 200 ms). */
  candidateWaitMs?: number;
  candidatePollMs?: number;
  /** Another fetch implementation (default the page's). */
  fetch?: Fetch;
}

function sdpFrag(candidates: readonly string[]): string {
  const lines = ['m=application 9 UDP/DTLS/SCTP webrtc-datachannel', 'a=mid:0'];
  for (const c of candidates) lines.push(c === '' ? 'a=end-of-candidates' : `a=${c}`);
  return `${lines.join('\r\n')}\r\n`;
}

function fragCandidates(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('a=candidate:')) out.push(line.slice(2));
    else if (line === 'a=end-of-candidates') out.push('');
  }
  return out;
}

function randomId(): string {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return `browser-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** One session on the gateway: the tube and the HTTP resource behind it. */
export class GatewaySession {
  readonly tube: BrowserTube;
  /** The session's resource URL (`…/tubes/<session>`). */
  readonly url: string;
  readonly #token: string;
  readonly #fetch: Fetch;
  #deleted = false;

  constructor(tube: BrowserTube, url: string, token: string, fetchFn: Fetch) {
    this.tube = tube;
    this.url = url;
    this.#token = token;
    this.#fetch = fetchFn;
  }

  /** Closes the tube (the gateway learns the reason) and deletes the session. */
  async close(reason?: number, message?: string): Promise<void> {
    await this.tube.close(reason, message);
    await this.delete();
  }

  /**
   * DELETE the session. `keepalive` lets the request outlive the page (use it from `pagehide`); the
   * gateway then closes its tube at once instead of noticing the lost peer later.
   */
  async delete(keepalive = false): Promise<void> {
    if (this.#deleted) return;
    this.#deleted = true;
    await this.#fetch(this.url, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${this.#token}` },
      keepalive,
    }).catch(() => {});
  }

  /** Deletes the session when the page goes away (reload, navigation, tab closed). */
  deleteOnPageHide(): void {
    const w = globalThis as { addEventListener?: (type: string, fn: () => void) => void };
    w.addEventListener?.('pagehide', () => {
      void this.delete(true);
      void this.tube.close();
    });
  }
}

/**
 * Creates a tube and signals it through the gateway: resolves once the answer is applied (the data channel
 * opens shortly after; await `session.tube.opened`). Throws SignallingError for HTTP failures.
 */
export async function connectToGateway(options: GatewayConnectOptions): Promise<GatewaySession> {
  const fetchFn = options.fetch ?? (globalThis.fetch as unknown as Fetch);
  const base = new URL(options.url, (globalThis as { location?: { href: string } }).location?.href);
  const auth = { authorization: `Bearer ${options.token}` };
  const tube = new BrowserTube({
    ...options.tube,
    conversationId: options.conversationId ?? randomId(),
    ...(options.rtcConfiguration !== undefined ? { rtcConfiguration: options.rtcConfiguration } : {}),
  });
  let resource: string | undefined;
  let pending: string[] = [];
  let patching = Promise.resolve();
  const flush = (): void => {
    if (resource === undefined || pending.length === 0) return;
    const batch = pending;
    pending = [];
    const url = resource;
    patching = patching.then(async () => {
      await fetchFn(url, {
        method: 'PATCH',
        headers: { ...auth, 'content-type': 'application/trickle-ice-sdpfrag' },
        body: sdpFrag(batch),
      }).catch(() => {});
    });
  };
  tube.onicecandidate = (c) => {
    pending.push(c);
    flush();
  };
  try {
    const offer = await tube.createOffer();
    const res = await fetchFn(base.href, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/sdp', 'tubes-conversation-id': tube.conversationId },
      body: offer,
    });
    const body = await res.text();
    if (!res.ok)
      throw new SignallingError(res.status, `gateway refused the offer (${res.status}): ${body.trim()}`);
    resource = new URL(res.headers.get('location') ?? '', base).href;
    await tube.acceptAnswer(body);
    flush();
    const session = new GatewaySession(tube, resource, options.token, fetchFn);
    if (!/^a=end-of-candidates/m.test(body)) {
      void pollCandidates(
        session,
        fetchFn,
        auth,
        options.candidateWaitMs ?? 10_000,
        options.candidatePollMs ?? 200,
      );
    }
    return session;
  } catch (err) {
    await tube.close();
    throw err;
  }
}

/** GETs the gateway's candidates until it reports the end of gathering, the tube opens, or time runs out. */
async function pollCandidates(
  session: GatewaySession,
  fetchFn: Fetch,
  auth: Record<string, string>,
  waitMs: number,
  everyMs: number,
): Promise<void> {
  const seen = new Set<string>();
  const until = Date.now() + waitMs;
  while (Date.now() < until && session.tube.state !== 'open' && session.tube.state !== 'closed') {
    const res = await fetchFn(session.url, { method: 'GET', headers: auth }).catch(() => undefined);
    if (res?.ok) {
      const candidates = fragCandidates(await res.text());
      for (const c of candidates) {
        if (c === '' || seen.has(c)) continue;
        seen.add(c);
        await session.tube.addRemoteCandidate(c).catch(() => {});
      }
      if (candidates.includes('')) return;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
