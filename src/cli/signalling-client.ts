/**
 * The connecting side of the gateway's HTTP signalling (src/cli/signalling-server.ts): plain node:http /
 * node:https requests with a bearer token, bounded response bodies and a timeout per request.
 */
import http from 'node:http';
import https from 'node:https';
import { SignallingError } from '../protocol/signalling-error.ts';
import { BASE_PATH } from './signalling-server.ts';

export interface SignallingClientOptions {
  token: string;
  /** Extra CA certificates (PEM) for a gateway with its own certificate. */
  ca?: string | Buffer;
  /** Per request (default 15 s). */
  timeoutMs?: number;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const MAX_REPLY = 256 * 1024;

/** `http://host:port` or a URL ending in /tubes → the /tubes collection URL. */
export function collectionUrl(base: string): URL {
  const url = new URL(base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`Gateway URL must be http: or https:, got ${url.protocol}`);
  }
  if (!url.pathname.replace(/\/+$/, '').endsWith(BASE_PATH)) {
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${BASE_PATH}`;
  }
  return url;
}

export class SignallingClient {
  readonly #base: URL;
  readonly #o: SignallingClientOptions;

  constructor(base: string, options: SignallingClientOptions) {
    this.#base = collectionUrl(base);
    this.#o = options;
  }

  get url(): string {
    return this.#base.href;
  }

  /** GET /tubes → { service, conversationType }. */
  async info(): Promise<{ service: string; conversationType: string }> {
    const r = await this.#expect('GET', this.#base, undefined, undefined, [200]);
    return JSON.parse(r.body) as { service: string; conversationType: string };
  }

  /** POST the offer (base64); resolves with the answer (base64 SDP) and the session URL. */
  async create(conversationId: string, offer: string): Promise<{ answer: string; session: URL }> {
    const r = await this.#expect('POST', this.#base, offer, 'text/plain', [201], {
      'tubes-conversation-id': conversationId,
    });
    const location = r.headers.location;
    if (!location) throw new SignallingError(r.status, 'The gateway sent no Location');
    return { answer: r.body.trim(), session: new URL(location, this.#base) };
  }

  /** PATCH trickle candidates (an sdpfrag). */
  async trickle(session: URL, sdpfrag: string): Promise<void> {
    await this.#expect('PATCH', session, sdpfrag, 'application/trickle-ice-sdpfrag', [204, 200]);
  }

  /** GET the gateway's candidates so far (an sdpfrag). */
  async candidates(session: URL): Promise<string> {
    return (await this.#expect('GET', session, undefined, undefined, [200])).body;
  }

  /** PATCH an ICE restart offer (base64); resolves with the answer (base64). */
  async restart(session: URL, offer: string): Promise<string> {
    return (await this.#expect('PATCH', session, offer, 'text/plain', [200])).body.trim();
  }

  /** DELETE the session (404 counts as done: the gateway already ended it). */
  async end(session: URL): Promise<void> {
    await this.#expect('DELETE', session, undefined, undefined, [204, 200, 404]);
  }

  async #expect(
    method: string,
    url: URL,
    body: string | undefined,
    type: string | undefined,
    ok: number[],
    extra: Record<string, string> = {},
  ): Promise<Reply> {
    const r = await this.request(method, url, body, type, extra);
    if (!ok.includes(r.status)) {
      throw new SignallingError(r.status, `${method} ${url.pathname}: ${r.status} ${r.body.trim()}`);
    }
    return r;
  }

  request(
    method: string,
    url: URL,
    body?: string,
    type?: string,
    extra: Record<string, string> = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#o.token}`, ...extra };
    if (body !== undefined) {
      headers['content-type'] = type ?? 'text/plain';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          headers,
          timeout: this.#o.timeoutMs ?? 15_000,
          ...(this.#o.ca !== undefined ? { ca: this.#o.ca } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_REPLY) {
              req.destroy(new Error(`Reply from ${url.host} larger than ${MAX_REPLY} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.once('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.once('error', reject);
        },
      );
      req.once('timeout', () => req.destroy(new Error(`${method} ${url.href}: timed out`)));
      req.once('error', reject);
      req.end(body);
    });
  }
}
