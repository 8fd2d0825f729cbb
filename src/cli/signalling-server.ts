/**
 * The gateway's HTTP signalling, shaped like WHIP (RFC 9725): one resource per session.
 *
 *   GET    /tubes                 → 200 JSON { service, conversationType }     (what this gateway serves)
 *   POST   /tubes                 offer (application/sdp, or base64 text)      → 201 answer + Location
 *          header Tubes-Conversation-Id: <id> (the offerer's data-channel label)
 *   PATCH  /tubes/<session>       application/trickle-ice-sdpfrag: the offerer's candidates → 204
 *                                 application/sdp (or base64 text): an ICE restart offer   → 200 answer
 *   GET    /tubes/<session>       → 200 application/trickle-ice-sdpfrag: the gateway's candidates so far
 *   DELETE /tubes/<session>       → 204, the tube is closed (the peer sees AdminClosed)
 *
 * Every request needs `Authorization: Bearer <token>` (compared in constant time); a session belongs to
 * the token that created it. Bodies are bounded, sessions are limited per token and per source address,
 * and a tube that ends on its own ends its session. No request can create a tube without a valid token.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, isTubesError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { CloseConnectionReason } from '../protocol/close-reason.ts';
import type { TubeRegistry } from '../registry/registry.ts';
import type { Signal } from '../registry/signals.ts';
import { decodeSdpBase64, encodeSdpBase64 } from '../webrtc/sdp.ts';
import { decodeSdpFrag, encodeSdpFrag, withCandidates } from './sdpfrag.ts';
import { isConversationId } from './stdio-token.ts';

export const BASE_PATH = '/tubes';
const SDP = 'application/sdp';
const SDPFRAG = 'application/trickle-ice-sdpfrag';

export interface SignallingOptions {
  registry: TubeRegistry;
  /** Settings of every gateway tube (the service this gateway answers for). */
  settings: Record<string, unknown>;
  /** What GET /tubes reports: 'tunnel' | 'socks' | 'guacd'. */
  service: string;
  /** Accepted bearer tokens (at least one). */
  tokens: readonly string[];
  logger: Logger;
  /** Largest request body (default 64 KiB). */
  maxBodyBytes?: number;
  /** Open sessions per token (default 16) and per source address (default 16). */
  maxSessionsPerToken?: number;
  maxSessionsPerAddress?: number;
  /** How long POST waits for the gateway's candidates before answering (default 2 s; the rest via GET). */
  gatherWaitMs?: number;
}

interface Session {
  id: string;
  token: number;
  address: string;
  tubeId: string;
  conversationId: string;
  candidates: string[];
  gathered: boolean;
  onGathered: (() => void) | undefined;
  closed: boolean;
}

class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const REQUIRED_LINES: ReadonlyArray<[RegExp, string]> = [
  [/^m=application \d+ [A-Z/]*SCTP/m, 'an m=application (data channel) section'],
  [/^a=ice-ufrag:\S+/m, 'a=ice-ufrag'],
  [/^a=ice-pwd:\S+/m, 'a=ice-pwd'],
  [/^a=fingerprint:\S+ \S+/m, 'a=fingerprint'],
];

/** What a data-channel offer must have before a tube is made for it (werift accepts less, then hangs). */
function checkOffer(sdp: string): void {
  const missing = REQUIRED_LINES.filter(([re]) => !re.test(sdp)).map(([, what]) => what);
  if (missing.length > 0) {
    throw new HttpError(400, `The SDP is not a WebRTC data-channel offer: missing ${missing.join(', ')}`);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class SignallingServer {
  readonly #o: Required<Omit<SignallingOptions, 'tokens'>>;
  readonly #tokens: Buffer[];
  readonly #sessions = new Map<string, Session>();
  /** Signals may arrive before createTube resolves: kept here by conversation id until the session exists. */
  readonly #early = new Map<string, Signal[]>();
  #stopping = false;

  constructor(options: SignallingOptions) {
    if (options.tokens.length === 0) throw new Error('SignallingServer: at least one token');
    this.#tokens = options.tokens.map(digest);
    this.#o = {
      maxBodyBytes: 64 * 1024,
      maxSessionsPerToken: 16,
      maxSessionsPerAddress: 16,
      gatherWaitMs: 2_000,
      ...options,
    };
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Conversation ids of the open sessions (for status lines). */
  conversations(): string[] {
    return [...this.#sessions.values()].map((s) => s.conversationId);
  }

  /** The `request` listener for node:http / node:https. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.#route(req, res).catch((err: unknown) => this.#fail(res, err));
  };

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== BASE_PATH && !path.startsWith(`${BASE_PATH}/`)) throw new HttpError(404, 'Not found');
    const token = this.#authenticate(req);
    if (this.#stopping) throw new HttpError(503, 'The gateway is stopping');
    if (path === BASE_PATH) {
      if (req.method === 'GET') return this.#info(res);
      if (req.method === 'POST') return this.#create(req, res, token);
      throw new HttpError(405, 'Use GET or POST', { allow: 'GET, POST' });
    }
    const id = path.slice(BASE_PATH.length + 1);
    const session = this.#sessions.get(id);
    if (!session) throw new HttpError(404, 'No such session');
    if (session.token !== token) throw new HttpError(403, 'This session belongs to another token');
    if (req.method === 'PATCH') return this.#patch(req, res, session);
    if (req.method === 'GET') return this.#candidates(res, session);
    if (req.method === 'DELETE') {
      await this.#end(session, CloseConnectionReason.Normal);
      res.writeHead(204).end();
      return;
    }
    throw new HttpError(405, 'Use GET, PATCH or DELETE', { allow: 'GET, PATCH, DELETE' });
  }

  /** The index of the matching token; every token is compared (no early exit). */
  #authenticate(req: IncomingMessage): number {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const given = digest(m?.[1] ?? '');
    let match = -1;
    for (let i = 0; i < this.#tokens.length; i++) {
      if (timingSafeEqual(given, this.#tokens[i] as Buffer) && m) match = i;
    }
    if (match < 0) {
      throw new HttpError(401, m ? 'Invalid token' : 'Missing bearer token', {
        'www-authenticate': 'Bearer realm="tubes"',
      });
    }
    return match;
  }

  #info(res: ServerResponse): void {
    const body = JSON.stringify({
      service: this.#o.service,
      conversationType: this.#o.settings['conversationType'],
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  }

  async #create(req: IncomingMessage, res: ServerResponse, token: number): Promise<void> {
    const conversationId = String(req.headers['tubes-conversation-id'] ?? '');
    if (!isConversationId(conversationId)) {
      throw new HttpError(400, 'Header Tubes-Conversation-Id: 1–128 of [A-Za-z0-9._:-] required');
    }
    const address = req.socket.remoteAddress ?? '?';
    let perToken = 0;
    let perAddress = 0;
    for (const s of this.#sessions.values()) {
      if (s.token === token) perToken++;
      if (s.address === address) perAddress++;
      if (s.conversationId === conversationId) throw new HttpError(409, 'Conversation id already in use');
    }
    if (perToken >= this.#o.maxSessionsPerToken) throw new HttpError(429, 'Too many sessions for this token');
    if (perAddress >= this.#o.maxSessionsPerAddress)
      throw new HttpError(429, 'Too many sessions from this address');
    const { raw, offer } = await this.#readSdp(req);
    this.#early.set(conversationId, []);
    let result: Awaited<ReturnType<TubeRegistry['createTube']>>;
    try {
      result = await this.#o.registry.createTube({
        conversationId,
        settings: this.#o.settings,
        trickleIce: true,
        offer,
        onSignal: (signal) => this.#onSignal(signal),
      });
    } catch (err) {
      this.#early.delete(conversationId);
      throw err;
    }
    const session: Session = {
      id: randomUUID(),
      token,
      address,
      tubeId: result.tubeId,
      conversationId,
      candidates: [],
      gathered: false,
      onGathered: undefined,
      closed: false,
    };
    this.#sessions.set(session.id, session);
    for (const signal of this.#early.get(conversationId) ?? []) this.#apply(session, signal);
    this.#early.delete(conversationId);
    this.#o.logger.info(
      { session: session.id, tubeId: session.tubeId, conversationId, address },
      'session created',
    );
    if (!session.gathered) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.gatherWaitMs);
        session.onGathered = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      session.onGathered = undefined;
    }
    const answer = withCandidates(decodeSdpBase64(result.answer ?? ''), session.candidates);
    res.writeHead(201, {
      'content-type': raw ? SDP : 'text/plain',
      location: `${BASE_PATH}/${session.id}`,
      etag: `"${session.id}"`,
    });
    res.end(raw ? answer : encodeSdpBase64(answer));
  }

  async #patch(req: IncomingMessage, res: ServerResponse, session: Session): Promise<void> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type === SDPFRAG) {
      const candidates = decodeSdpFrag(await this.#readBody(req));
      for (const c of candidates) await this.#o.registry.addIceCandidate(session.tubeId, c);
      res.writeHead(204).end();
      return;
    }
    // An ICE restart: the offerer's new offer, our answer back.
    const { raw, offer } = await this.#readSdp(req);
    const answer = await this.#o.registry.setRemoteDescription(session.tubeId, offer, false);
    if (answer === undefined) throw new HttpError(500, 'No answer for the restart offer');
    this.#o.logger.info({ session: session.id }, 'ICE restart answered');
    res.writeHead(200, { 'content-type': raw ? SDP : 'text/plain' });
    res.end(raw ? decodeSdpBase64(answer) : answer);
  }

  #candidates(res: ServerResponse, session: Session): void {
    res.writeHead(200, { 'content-type': SDPFRAG });
    res.end(encodeSdpFrag(session.gathered ? [...session.candidates, ''] : session.candidates));
  }

  #onSignal(signal: Signal): void {
    const session = [...this.#sessions.values()].find((s) => s.tubeId === signal.tubeId);
    if (session) this.#apply(session, signal);
    else this.#early.get(signal.conversationId)?.push(signal);
  }

  #apply(session: Session, signal: Signal): void {
    if (signal.kind === 'icecandidate') {
      if (signal.data === '') {
        session.gathered = true;
        session.onGathered?.();
      } else if (session.candidates.length < 256) {
        session.candidates.push(signal.data);
      }
    } else if (signal.kind === 'channel_closed') {
      if (!session.closed) {
        this.#o.logger.info({ session: session.id, data: signal.data }, 'session ended by the tube');
        void this.#end(session, CloseConnectionReason.Normal);
      }
    }
  }

  async #end(session: Session, reason: number): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    this.#sessions.delete(session.id);
    await this.#o.registry.closeTube(session.tubeId, reason).catch(() => {});
    this.#o.logger.info({ session: session.id }, 'session closed');
  }

  /** Ends every session (the peers see `reason`) and refuses new requests. */
  async stop(reason: number = CloseConnectionReason.AdminClosed): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#sessions.values()].map((s) => this.#end(s, reason)));
  }

  /** An SDP body: `application/sdp` (raw) or base64 text. Returns the base64 form for the registry. */
  async #readSdp(req: IncomingMessage): Promise<{ raw: boolean; offer: string }> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const body = await this.#readBody(req);
    if (type === SDP) {
      if (!body.startsWith('v=0'))
        throw new HttpError(400, 'The body is not an SDP (it must start with v=0)');
      return { raw: true, offer: encodeSdpBase64(body) };
    }
    const sdp = decodeSdpBase64(body, 'offer'); // a clear TUBES_ERR_BAD_SDP(_BASE64) message → 400
    checkOffer(sdp);
    return { raw: false, offer: body.trim() };
  }

  #readBody(req: IncomingMessage): Promise<string> {
    const limit = this.#o.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      return Promise.reject(new HttpError(413, `Request body larger than ${limit} bytes`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          reject(new HttpError(413, `Request body larger than ${limit} bytes`));
          req.removeAllListeners('data');
          req.resume();
          return;
        }
        chunks.push(chunk);
      });
      req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.once('error', reject);
    });
  }

  #fail(res: ServerResponse, err: unknown): void {
    let status = 500;
    let headers: Record<string, string> = {};
    const message = (err as Error)?.message ?? String(err);
    if (err instanceof HttpError) {
      status = err.status;
      headers = err.headers;
    } else if (isTubesError(err)) {
      if (
        err.code === ErrorCode.BAD_SDP ||
        err.code === ErrorCode.BAD_SDP_BASE64 ||
        err.code === ErrorCode.BAD_ARGUMENT ||
        err.code === ErrorCode.BAD_SETTINGS
      )
        status = 400;
      else if (err.code === ErrorCode.OVERLOADED) status = 503;
      else if (err.code === ErrorCode.TUBE_NOT_FOUND) status = 404;
    }
    if (status === 500) this.#o.logger.error({ err }, 'signalling request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // Close the connection after an error that left a request body unread.
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close', ...headers });
    res.end(`${message}\n`);
  }
}
