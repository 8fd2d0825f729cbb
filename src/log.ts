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

export function setVerboseLogging(enabled: boolean): void {
  verbose = enabled;
}

export function isVerbose(): boolean {
  return verbose;
}
