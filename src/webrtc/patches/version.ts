/**
 * The werift version guard shared by every patch in this folder. Patches reach into werift's internals, so
 * they only run against the exact version they were written and tested for; any other version is refused
 * with one log line (per process) and werift runs unpatched.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Logger } from '../../log.ts';

/** The werift version the patches were written against (package.json pins it exactly). */
export const PINNED_WERIFT_VERSION = '0.25.2';

let cached: string | null | undefined;

/** The installed werift version, read from its package.json (undefined when it cannot be found). */
export function installedWeriftVersion(): string | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  try {
    const require = createRequire(import.meta.url);
    // werift's `exports` does not expose ./package.json: walk up from its entry point.
    let dir = path.dirname(require.resolve('werift'));
    for (let i = 0; i < 8; i++) {
      const file = path.join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'werift' && typeof pkg.version === 'string') {
          cached = pkg.version;
          break;
        }
      }
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  } catch {
    // not resolvable from here: treated as a mismatch
  }
  return cached ?? undefined;
}

/** For tests: forget the cached version and the "already logged" flag. */
export function resetVersionGuardForTests(version?: string): void {
  cached = version;
  refusalLogged = false;
}

let refusalLogged = false;

/**
 * True when the installed werift is the pinned version. Otherwise logs one warning (once per process) on
 * `logger` and returns false: the caller must then leave werift untouched.
 */
export function weriftVersionAccepted(logger: Logger): boolean {
  const installed = installedWeriftVersion();
  if (installed === PINNED_WERIFT_VERSION) return true;
  if (!refusalLogged) {
    refusalLogged = true;
    logger.warn(
      { weriftInstalled: installed ?? 'unknown', weriftPinned: PINNED_WERIFT_VERSION },
      `werift patches refused: installed werift ${installed ?? '(not found)'} is not the pinned ${PINNED_WERIFT_VERSION}; running stock werift (slower data channels)`,
    );
  }
  return false;
}
