/**
 * guacd handshake building blocks (docs/ORIGINAL.md, “guacd mode”): parameter conversion and normalisation,
 * the RDP `domain\user` split, the instructions a gateway sends to guacd, and the original's error texts.
 * Pure functions: no sockets here (src/channel/guacd.ts runs the handshake).
 */
import { encodeInstruction } from '../hotpath/index.ts';
import { closeReasonInfo } from './close-reason.ts';

/** Version assumed when guacd's `args` carries none (the original's expected version). */
export const DEFAULT_GUACD_VERSION = 'VERSION_1_5_0';

/** Handshake limit of the original (`TunnelTimeouts.guacd_handshake`). */
export const GUACD_HANDSHAKE_TIMEOUT_MS = 10_000;

export const DEFAULT_WIDTH = '1024';
export const DEFAULT_HEIGHT = '768';
export const DEFAULT_DPI = '96';

/** Lowercase, without `-` and `_`: how argument names and parameter keys are matched. */
export function normalizeGuacdParamName(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase();
}

/**
 * One `guacd_params` value as the string guacd gets: strings as they are, booleans and numbers
 * stringified, arrays joined with `,` (items converted the same way), other objects as JSON; null and
 * undefined are dropped (undefined is returned).
 */
export function guacdParamValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      const s = guacdParamValue(item);
      if (s !== undefined) items.push(s);
    }
    return items.join(',');
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return undefined;
}

/** `protocol` as guacd knows the conversation type (`postgresql` → `postgres`). */
export function guacdProtocolName(conversationType: string): string {
  return conversationType === 'postgresql' ? 'postgres' : conversationType;
}

/**
 * Converts `settings.guacd_params` into normalised keys → string values, with `protocol` overwritten by
 * the conversation type. Later keys that normalise to the same name win. Returns undefined when `raw` is
 * not a plain object (null/undefined give an empty map).
 */
export function guacdParams(raw: unknown, conversationType: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  if (raw !== null && raw !== undefined) {
    if (typeof raw !== 'object' || Array.isArray(raw)) return undefined;
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      const s = guacdParamValue(value);
      if (s !== undefined) out.set(normalizeGuacdParamName(key), s);
    }
  }
  out.set('protocol', guacdProtocolName(conversationType));
  return out;
}

/**
 * RDP only (protocol `rdp`, any case): a username `AzureAD\…` or `.\AzureAD\…` sets `security=aad` and
 * stays as it is; otherwise `DOMAIN\user` becomes `domain=DOMAIN`, `username=user` (first backslash).
 * Mutates and returns `params`.
 */
export function applyRdpUsernameRules(params: Map<string, string>): Map<string, string> {
  if (params.get('protocol')?.toLowerCase() !== 'rdp') return params;
  const username = params.get('username');
  if (username === undefined) return params;
  if (username.startsWith('AzureAD\\') || username.startsWith('.\\AzureAD\\')) {
    params.set('security', 'aad');
    return params;
  }
  const at = username.indexOf('\\');
  if (at >= 0) {
    params.set('domain', username.slice(0, at));
    params.set('username', username.slice(at + 1));
  }
  return params;
}

/** Mimetype list of `audio`/`video`/`image`: a JSON array of strings, else comma-separated; empties dropped. */
export function parseMimetypes(value: string | undefined): string[] {
  if (value === undefined || value === '') return [];
  if (value.trimStart().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed) && parsed.every((v) => typeof v === 'string')) return parsed as string[];
    } catch {
      // not JSON: comma-separated
    }
  }
  return value.split(',').filter((s) => s !== '');
}

/** What the gateway sends to guacd, decided from the parameters before connecting. */
export interface GuacdHandshakePlan {
  /** `select` argument: the protocol, or the connection id to join. */
  readonly select: string;
  readonly join: boolean;
  /** Join only: `readonly` equals `true` (any case). */
  readonly readOnly: boolean;
  /** Normalised parameters after the RDP rules (new sessions look `connect` arguments up here). */
  readonly params: ReadonlyMap<string, string>;
  /** `size` arguments: width, height, dpi (each split on `,`). */
  readonly size: readonly string[];
  readonly audio: readonly string[];
  readonly video: readonly string[];
  readonly image: readonly string[];
  /** `timezone` instruction argument (new sessions, only when the parameter is set and non-empty). */
  readonly timezone: string | undefined;
  /** `protocol` was missing and defaulted to `rdp` (the caller may warn). */
  readonly protocolDefaulted: boolean;
}

/**
 * Plans the handshake from normalised parameters (see guacdParams): the RDP rules, join detection
 * (`connectionid` present and non-empty), defaults width 1024, height 768, dpi 96.
 */
export function planGuacdHandshake(input: ReadonlyMap<string, string>): GuacdHandshakePlan {
  const params = new Map(input);
  const protocolDefaulted = !params.has('protocol');
  if (protocolDefaulted) params.set('protocol', 'rdp');
  applyRdpUsernameRules(params);
  if (!params.has('width')) params.set('width', DEFAULT_WIDTH);
  if (!params.has('height')) params.set('height', DEFAULT_HEIGHT);
  if (!params.has('dpi')) params.set('dpi', DEFAULT_DPI);
  const connectionId = params.get('connectionid');
  const join = connectionId !== undefined && connectionId !== '';
  const timezone = params.get('timezone');
  return {
    select: join ? connectionId : (params.get('protocol') as string),
    join,
    readOnly: join && params.get('readonly')?.toLowerCase() === 'true',
    params,
    size: [
      ...(params.get('width') as string).split(','),
      ...(params.get('height') as string).split(','),
      ...(params.get('dpi') as string).split(','),
    ],
    audio: parseMimetypes(params.get('audio')),
    video: parseMimetypes(params.get('video')),
    image: parseMimetypes(params.get('image')),
    timezone: !join && timezone !== undefined && timezone !== '' ? timezone : undefined,
    protocolDefaulted,
  };
}

/** The version to echo: `args[0]`, or VERSION_1_5_0 when `args` is empty. */
export function guacdVersionOf(args: readonly string[]): string {
  return args[0] ?? DEFAULT_GUACD_VERSION;
}

/**
 * `connect` arguments for guacd's `args` (version first, then one value per remaining name). New session:
 * each name normalised and looked up in the parameters, missing → "". Join: `read-only` → "true" when
 * read-only was asked, everything else "".
 */
export function connectArgs(plan: GuacdHandshakePlan, args: readonly string[]): string[] {
  const out: string[] = [guacdVersionOf(args)];
  for (let i = 1; i < args.length; i++) {
    const name = args[i] as string;
    if (plan.join) out.push(name === 'read-only' && plan.readOnly ? 'true' : '');
    else out.push(plan.params.get(normalizeGuacdParamName(name)) ?? '');
  }
  return out;
}

/** The `select` instruction. */
export function selectInstruction(plan: GuacdHandshakePlan): string {
  return encodeInstruction('select', plan.select);
}

/**
 * Everything sent after `args`: for a new session `size`, `audio`, `video`, `image` (sent even without
 * arguments), `timezone` when set, then `connect`; for a join only `connect`.
 */
export function afterArgsInstructions(plan: GuacdHandshakePlan, args: readonly string[]): string {
  let out = '';
  if (!plan.join) {
    out += encodeInstruction('size', ...plan.size);
    out += encodeInstruction('audio', ...plan.audio);
    out += encodeInstruction('video', ...plan.video);
    out += encodeInstruction('image', ...plan.image);
    if (plan.timezone !== undefined) out += encodeInstruction('timezone', plan.timezone);
  }
  return out + encodeInstruction('connect', ...connectArgs(plan, args));
}

/** `log,<reason message>` + `disconnect`: what both ends get when a guacd connection closes normally. */
export function closingInstructions(reason: number): string {
  return encodeInstruction('log', closeReasonInfo(reason).message) + encodeInstruction('disconnect');
}

/** Rust `{:?}` of a Vec<String>: `["a", "b"]`. */
export function debugList(items: readonly string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;
}

/** The original's texts (docs/ORIGINAL.md, “Close reasons” and “guacd mode”); a peer may show or match them. */
export const GuacdText = {
  handshakeTimeout: 'Guacd handshake timed out',
  notConfigured: 'Guacd host/port not configured or supplied via ConnectAs for OpenConnection',
  disconnect: 'Guacd disconnect',
  unexpectedEof: 'Backend connection closed unexpectedly',
  unexpectedOpcode: (expected: string, got: string, args: readonly string[]): string =>
    `Expected Guacd opcode '${expected}', got '${got}' with args ${debugList(args)}`,
  errorDuringHandshake: (args: readonly string[], expected: string): string =>
    `Guacd sent error 'error' (${debugList(args)}) during handshake (expected '${expected}')`,
  eofDuringHandshake: (expected: string): string =>
    `EOF during Guacd handshake while waiting for '${expected}' (incomplete data in buffer)`,
  guacdError: (args: readonly string[]): string =>
    args.length > 0 ? `Guacd error: ${args.join(', ')}` : 'Guacd error',
  parsingError: (detail: string): string => `Guacd protocol parsing error: ${detail}`,
} as const;
