/**
 * TCP workloads run inside a test network namespace (the test process itself cannot reach 127.0.0.1 of a
 * namespace), printing one JSON line:
 *
 *   node netns-workload.ts echo                 → {"port": N}, then echoes until killed
 *   node netns-workload.ts transfer ADDR BYTES  → {"sentSha256", "receivedSha256", "received", "ms"}, exits
 */
import { echoTransfer, startEchoServer } from '../../src/cli/workload.ts';

const [mode, addr, bytes] = process.argv.slice(2);
if (mode === 'echo') {
  const server = await startEchoServer();
  console.log(JSON.stringify({ port: server.port }));
} else if (mode === 'transfer' && addr && bytes) {
  const result = await echoTransfer(addr, Number(bytes));
  console.log(JSON.stringify(result));
  process.exit(0);
} else {
  console.error('usage: netns-workload.ts echo | transfer ADDR BYTES');
  process.exit(2);
}
