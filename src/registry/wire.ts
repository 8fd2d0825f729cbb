/**
 * What the registry's remote sides share: replies and events on the wire, errors carried across it, and the
 * far side's log lines replayed on the host logger. Used by the worker backend (worker-backend.ts,
 * worker-entry.ts) and by the child-process harness (src/cli/child.ts, src/cli/remote.ts).
 */
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ErrorCode, TubesError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Signal } from './signals.ts';

export interface WireError {
  name: string;
  message: string;
  code?: string;
  /** A TubesError's `closeReason` (e.g. a refused openConnection). */
  closeReason?: number;
}

export type WireReply =
  | { id: number; ok: true; result?: unknown }
  | { id: number; ok: false; error: WireError };

export type WireEvent =
  | { event: 'ready'; pid: number }
  | { event: 'signal'; call: number; signal: Signal }
  | { event: 'log'; line: string };

export function toWireError(err: unknown): WireError {
  if (err instanceof TubesError) {
    const { closeReason } = err;
    return {
      name: err.name,
      message: err.message,
      code: err.code,
      ...(closeReason !== undefined ? { closeReason } : {}),
    };
  }
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** The far side's error as this side raises it: a TubesError with the same code, message and close reason when it was one. */
export function fromWireError(error: WireError): Error {
  if (error.code !== undefined && KNOWN_CODES.has(error.code)) {
    const { closeReason } = error;
    return new TubesError(
      error.code as ErrorCode,
      error.message,
      closeReason !== undefined ? { closeReason } : undefined,
    );
  }
  const err = new Error(error.message);
  err.name = error.name;
  return err;
}

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

/** The far side's logger: pino at `level`, each line sent back as a `log` event; none when `level` is absent. */
export function forwardingLogger(
  level: string | undefined,
  send: (event: { event: 'log'; line: string }) => void,
): Logger | undefined {
  if (level === undefined) return undefined;
  return pino({ level }, { write: (line: string) => send({ event: 'log', line: line.trimEnd() }) });
}
