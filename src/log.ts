/** Logging: a pino(-compatible) logger, silent unless the host passes one. */
import pino from 'pino';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The verbose flag gates anything logged per frame (original: `set_verbose_logging`). */
let verbose = process.env['TUBES_VERBOSE'] === '1';

/** Whoever has channels to update when the flag changes (each TubeRegistry), held weakly. */
export interface VerboseListener {
  verboseChanged(enabled: boolean): void;
}

const listeners = new Set<WeakRef<VerboseListener>>();

/** `listener.verboseChanged` runs on every setVerboseLogging() while the listener is alive. */
export function onVerboseChange(listener: VerboseListener): void {
  listeners.add(new WeakRef(listener));
}

/** Sets the flag and applies it at once, to existing channels too (in worker mode, in every worker). */
export function setVerboseLogging(enabled: boolean): void {
  verbose = enabled;
  for (const ref of listeners) {
    const listener = ref.deref();
    if (listener) listener.verboseChanged(enabled);
    else listeners.delete(ref);
  }
}

export function isVerbose(): boolean {
  return verbose;
}
