/** The README's example runs as written and its process ends by itself. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('examples/two-tubes.ts tunnels a TCP exchange and exits', () => {
  const file = fileURLToPath(new URL('../examples/two-tubes.ts', import.meta.url));
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('hello through a tube\n');
  expect(r.status).toBe(0);
});
