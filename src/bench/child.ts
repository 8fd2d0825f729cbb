/**
 * Entry of the benchmarks' child processes: `node child.js <bench> <args…>` runs that bench's `child(args)`
 * (the sending/receiving ends of bench transport, the raw and TCP peers of bench tunnel).
 */
import { BENCHES } from './index.ts';

const [name, ...args] = process.argv.slice(2);
const def = BENCHES.find((b) => b.name === name);
if (def?.child === undefined) {
  process.stderr.write(`bench child: no child entry for ${String(name)}\n`);
  process.exit(2);
}
await def.child(args);
