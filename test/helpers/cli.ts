/** Running the `tubes` command line as a real process in tests: its path, and waits on its output and exit. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** src/cli/tubes.ts, and the Node flags that run it. */
export const CLI = fileURLToPath(new URL('../../src/cli/tubes.ts', import.meta.url));
export const CLI_FLAGS: readonly string[] = process.features.typescript ? [] : ['--experimental-strip-types'];

/** The first stdout line of `child` matching `pattern`; rejects (with its stderr tail) on exit or timeout. */
export function lineOf(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    const timer = setTimeout(
      () => reject(new Error(`no line ${pattern} within ${timeoutMs} ms: ${err}`)),
      timeoutMs,
    );
    lines.on('line', (line) => {
      const m = pattern.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ${pattern}: ${err}`));
    });
  });
}

/** Resolves with the exit code once the process has exited. */
export function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}
