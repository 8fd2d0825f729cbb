/** The README's example runs as written and its process ends by itself. */
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runCommand } from '../helpers/peers.ts';

it('examples/two-tubes.ts tunnels a TCP exchange and exits', async () => {
  const file = fileURLToPath(new URL('../../examples/two-tubes.ts', import.meta.url));
  const r = await runCommand(process.execPath, [file], { timeout: 30_000 });
  expect(r.stderr.toString()).toBe('');
  expect(r.stdout.toString()).toBe('hello through a tube\n');
  expect(r.timedOut).toBe(false);
  expect(r.code).toBe(0);
});
