/**
 * The JSON-lines protocol between a `RemoteRegistry` (parent) and its child process (src/cli/child.ts).
 * Parent → child: one request per line. Child → parent: replies (by request id) and events, one per line.
 */
import { fileURLToPath } from 'node:url';
import { ErrorCode, TubesError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TubeRegistry, TubeRegistryOptions } from '../registry/registry.ts';
import type { Signal } from '../registry/signals.ts';

/** Registry methods the child answers; `stop` cleans up and ends the child. */
export const REMOTE_METHODS = [
  'createTube',
  'setRemoteDescription',
  'addIceCandidate',
  'closeTube',
  'closeConnection',
  'getTubeStatus',
  'getConnectionState',
  'tubeFound',
  'getLiveStats',
  'cleanupAll',
  'stop',
] as const;

export type RemoteMethod = (typeof REMOTE_METHODS)[number];

export interface WireRequest {
  id: number;
  method: RemoteMethod;
  args: unknown[];
  /** createTube only: deliver the tube's signals as `signal` events tagged with this request id. */
  signals?: boolean;
}

export interface WireError {
  name: string;
  message: string;
  code?: string;
}

export type WireReply =
  | { id: number; ok: true; result?: unknown }
  | { id: number; ok: false; error: WireError };

export type WireEvent =
  | { event: 'ready'; pid: number }
  | { event: 'signal'; call: number; signal: Signal }
  | { event: 'log'; line: string };

export type ChildMessage = WireReply | WireEvent;

/** What the child gets at spawn (argv[2], JSON): registry options without the logger, and its log level. */
export interface ChildInit {
  registry: Omit<TubeRegistryOptions, 'logger'>;
  /** pino level for the child's logger, whose lines come back as `log` events; absent = silent. */
  logLevel?: string;
}

export function isRemoteMethod(value: unknown): value is RemoteMethod {
  return typeof value === 'string' && (REMOTE_METHODS as readonly string[]).includes(value);
}

export function toWireError(err: unknown): WireError {
  if (err instanceof TubesError) return { name: err.name, message: err.message, code: err.code };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** The child's error as the parent raises it: a TubesError with the same code and message when it was one. */
export function fromWireError(error: WireError): Error {
  if (error.code !== undefined && KNOWN_CODES.has(error.code)) {
    return new TubesError(error.code as ErrorCode, error.message);
  }
  const err = new Error(error.message);
  err.name = error.name;
  return err;
}

// ---- shared by the child-process harness (remote.ts) and worker mode (src/registry/workers.ts) ------

/** A module next to `metaUrl` with that module's own extension (.ts from src/, .js from dist/). */
export function siblingModule(metaUrl: string, name: string): string {
  const ext = metaUrl.endsWith('.ts') ? '.ts' : '.js';
  return fileURLToPath(new URL(`./${name}${ext}`, metaUrl));
}

/** The pino level a forwarding logger on the far side should use: `explicit`, else the logger's own level, else 'info'. */
export function forwardedLogLevel(logger: Logger, explicit?: string): string {
  const level = (logger as { level?: unknown }).level;
  return explicit ?? (typeof level === 'string' ? level : 'info');
}

const LEVEL_NAMES: Record<number, 'debug' | 'info' | 'warn' | 'error'> = {
  10: 'debug',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'error',
};

/**
 * Replays one pino JSON line from the far side (a `log` event) on the host logger at the same level, with
 * `bindings` added (e.g. `{ childPid }`) and pino's own time/pid/hostname dropped.
 */
export function forwardLogLine(logger: Logger, line: string, bindings: Record<string, unknown>): void {
  try {
    const {
      level,
      msg,
      time: _t,
      pid: _p,
      hostname: _h,
      ...rest
    } = JSON.parse(line) as Record<string, unknown>;
    const name = LEVEL_NAMES[Number(level)] ?? 'info';
    logger[name]({ ...rest, ...bindings }, typeof msg === 'string' ? msg : undefined);
  } catch {
    logger.info(bindings, line);
  }
}

/** TubeRegistry methods a remote side may call with plain (JSON/structured-clone) arguments as they are. */
const FORWARDED = new Set([
  'setRemoteDescription',
  'addIceCandidate',
  'createOffer',
  'createAnswer',
  'restartIce',
  'closeTube',
  'closeConnection',
  'getTubeStatus',
  'getConnectionState',
  'tubeFound',
  'getLiveStats',
  'getConnectionStats',
  'associateConversation',
  'cleanupTubes',
  'cleanupAll',
]);

/**
 * Calls one of the forwarded TubeRegistry methods by name (the child process and the worker entry both
 * serve requests this way); `undefined` for a name that is not forwarded, so the caller handles it.
 */
export function forwardToRegistry(
  registry: TubeRegistry,
  method: string,
  args: unknown[],
): { result: unknown } | undefined {
  if (!FORWARDED.has(method)) return undefined;
  const fn = (registry as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
  return fn ? { result: fn.apply(registry, args) } : undefined;
}
