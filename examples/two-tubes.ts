// Two tubes in one process: a local port on the offerer reaches a TCP service behind the gateway.
// Run: node examples/two-tubes.ts (Node ≥ 22.18 runs TypeScript directly; import from 'webrtc-tubes' in your code).
import net from 'node:net';
import { TubeRegistry } from '../src/index.ts';

// A TCP service for the gateway to reach (an echo server).
const service = net.createServer((s) => s.pipe(s)).listen(0, '127.0.0.1');
await new Promise((r) => service.once('listening', r));
const servicePort = (service.address() as net.AddressInfo).port;

// Both sides stay on loopback here; real deployments pass iceServers / TURN settings instead.
const local = { hostAddresses: ['127.0.0.1'], hostAddressesOnly: true };
const client = new TubeRegistry(local); // offerer: listens on a local port
const gateway = new TubeRegistry(local); // answerer: dials the target

// Your signalling carries these between the two sides; here they are function calls.
let gatewayTube = '';
const early: string[] = [];
const offerer = await client.createTube({
  conversationId: 'demo-1',
  settings: { conversationType: 'tunnel', local_listen_addr: '127.0.0.1:0' },
  trickleIce: true,
  onSignal: ({ kind, data }) => {
    if (kind !== 'icecandidate') return;
    if (gatewayTube) void gateway.addIceCandidate(gatewayTube, data);
    else early.push(data);
  },
});
const answerer = await gateway.createTube({
  conversationId: 'demo-1',
  settings: { conversationType: 'tunnel', target_host: '127.0.0.1', target_port: servicePort },
  trickleIce: true,
  offer: offerer.offer, // base64 SDP
  onSignal: ({ kind, data }) => {
    if (kind === 'icecandidate') void client.addIceCandidate(offerer.tubeId, data);
  },
});
gatewayTube = answerer.tubeId;
for (const c of early) await gateway.addIceCandidate(gatewayTube, c);
await client.setRemoteDescription(offerer.tubeId, answerer.answer as string, true);

// Any TCP client of the local port now talks to the service through the tube.
const [host, port] = [
  offerer.actualLocalListenAddr?.split(':')[0],
  offerer.actualLocalListenAddr?.split(':')[1],
];
const socket = net.connect(Number(port), host);
socket.end('hello through a tube\n');
let reply = '';
for await (const chunk of socket) reply += chunk;
process.stdout.write(reply);

await client.closeTube(offerer.tubeId); // the gateway's tube closes with it
await gateway.cleanupAll();
service.close();
