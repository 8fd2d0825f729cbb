/**
 * The page `tubes gateway --web` serves: a remote desktop over a tube, nothing else needed. The form takes
 * the gateway's token; the page signals through the gateway's HTTP API on the same origin, opens one
 * connection through which the gateway drives guacd, and shows it with guacamole-common-js.
 * Bundled by scripts/build-browser.mjs (with guacamole-common-js) into dist/browser/web/app.js.
 */
import Guacamole from 'guacamole-common-js';
import * as tubes from '../index.ts';

interface El {
  value: string;
  textContent: string | null;
  disabled: boolean;
  tabIndex: number;
  style: Record<string, string>;
  clientWidth: number;
  clientHeight: number;
  appendChild(child: unknown): void;
  replaceChildren(): void;
  focus(): void;
  addEventListener(type: string, fn: (ev: { preventDefault(): void }) => void): void;
}
interface PageWindow {
  document: { getElementById(id: string): El; title: string };
  addEventListener(type: string, fn: () => void): void;
  crossOriginIsolated?: boolean;
  tubesApp: unknown;
  tubes: unknown;
  Guacamole: unknown;
}
// biome-ignore lint/suspicious/noExplicitAny: guacamole-common-js ships no types
type Any = any;

const w = globalThis as unknown as PageWindow;
const $ = (id: string): El => w.document.getElementById(id);
const G = Guacamole as Any;

const state = {
  session: undefined as tubes.GatewaySession | undefined,
  tunnel: undefined as tubes.TubeTunnel | undefined,
  client: undefined as Any,
  status: 'idle',
  error: undefined as { code: number; message: string } | undefined,
  tunnelError: undefined as { code: number; message: string } | undefined,
  syncs: 0,
  sizesSent: 0,
  clipboardIn: '',
  /** The last opcodes received (for scripts and tests). */
  lastOpcodes: [] as string[],
  lastCloseInfo: undefined as tubes.CloseInfo | undefined,
};

function show(status: string): void {
  state.status = status;
  $('status').textContent = status;
}

function displaySize(): { width: number; height: number } {
  const box = $('display');
  return { width: Math.max(64, box.clientWidth), height: Math.max(64, box.clientHeight) };
}

async function connect(token: string): Promise<void> {
  await disconnect();
  state.error = undefined;
  state.tunnelError = undefined;
  show('signalling…');
  const session = await tubes.connectToGateway({ url: '/tubes', token });
  state.session = session;
  session.deleteOnPageHide();
  session.tube.onclose = (info) => {
    state.lastCloseInfo = info;
    if (info.reason !== 0 && state.error === undefined) {
      show(`closed: ${info.name} (${info.reason})${info.message ? `: ${info.message}` : ''}`);
    }
  };
  const tunnel = new tubes.TubeTunnel({ tube: session.tube, Guacamole: G, closeTubeOnDisconnect: true });
  state.tunnel = tunnel;
  tunnel.onerror = (s) => {
    state.tunnelError = { code: s.code, message: s.message };
    state.error = { code: s.code, message: s.message };
    show(`error 0x${s.code.toString(16).padStart(4, '0')}: ${s.message}`);
  };
  const client = new G.Client(tunnel);
  state.client = client;
  const handle = tunnel.oninstruction;
  state.lastOpcodes = [];
  tunnel.oninstruction = (opcode, args) => {
    if (state.lastOpcodes.push(opcode) > 16) state.lastOpcodes.shift();
    handle?.(opcode, args);
  };
  const display = $('display');
  display.replaceChildren();
  display.appendChild(client.getDisplay().getElement());
  client.onstatechange = (s: number) => {
    const names = ['idle', 'connecting', 'waiting', 'connected', 'disconnecting', 'disconnected'];
    if (state.error === undefined) show(names[s] ?? String(s));
    if (s === 3) sendSize();
  };
  client.onerror = (s: Any) => {
    state.error = { code: s.code, message: s.message };
    show(`error 0x${Number(s.code).toString(16).padStart(4, '0')}: ${s.message}`);
  };
  client.onsync = () => {
    state.syncs++;
  };
  client.onclipboard = (stream: Any, mimetype: string) => {
    if (!/^text\//.test(mimetype)) return;
    // bytes, decoded here: Guacamole.StringReader/StringWriter mishandle characters outside the BMP
    const reader = new G.ArrayBufferReader(stream);
    const decoder = new TextDecoder();
    let text = '';
    reader.ondata = (buffer: ArrayBuffer) => {
      text += decoder.decode(new Uint8Array(buffer), { stream: true });
    };
    reader.onend = () => {
      text += decoder.decode();
      state.clipboardIn = text;
      $('clipboard').value = text;
    };
  };
  const mouse = new G.Mouse(client.getDisplay().getElement());
  const onMouse = (e: Any) => client.sendMouseState(e.state ?? e, true);
  if (typeof mouse.onEach === 'function') mouse.onEach(['mousedown', 'mouseup', 'mousemove'], onMouse);
  else mouse.onmousedown = mouse.onmouseup = mouse.onmousemove = onMouse;
  const keyboard = new G.Keyboard(display);
  keyboard.onkeydown = (keysym: number) => {
    client.sendKeyEvent(1, keysym);
    return false;
  };
  keyboard.onkeyup = (keysym: number) => client.sendKeyEvent(0, keysym);
  client.connect();
  display.focus();
}

function sendSize(): void {
  const client = state.client;
  if (!client) return;
  const { width, height } = displaySize();
  client.sendSize(width, height);
  state.sizesSent++;
}

function setClipboard(text: string): void {
  const client = state.client;
  if (!client) return;
  const stream = client.createClipboardStream('text/plain');
  const writer = new G.ArrayBufferWriter(stream);
  writer.sendData(new TextEncoder().encode(text));
  writer.sendEnd();
}

async function disconnect(): Promise<void> {
  const { client, session } = state;
  state.client = undefined;
  state.tunnel = undefined;
  state.session = undefined;
  client?.disconnect();
  await session?.close();
}

function refreshStats(): void {
  const tube = state.session?.tube;
  const parts = [
    tube?.rttMs !== undefined ? `RTT ${tube.rttMs} ms` : 'RTT –',
    `engine ${state.tunnel?.engine ?? tubes.engine()}`,
    `syncs ${state.syncs}`,
  ];
  $('latency').textContent = parts.join(' · ');
}

w.addEventListener('load', () => {
  $('display').tabIndex = 0; // focusable: the keyboard goes to the remote display
  $('connect').addEventListener('click', (ev) => {
    ev.preventDefault();
    connect($('token').value.trim()).catch((err: Error) => show(`failed: ${err.message}`));
  });
  $('disconnect').addEventListener('click', (ev) => {
    ev.preventDefault();
    void disconnect().then(() => show('disconnected'));
  });
  $('clipboard').addEventListener('change', () => setClipboard($('clipboard').value));
  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  w.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(sendSize, 150);
  });
  setInterval(refreshStats, 1000);
  show('idle');
});

// For scripts and tests driving the page.
w.tubesApp = { state, connect, disconnect, setClipboard, sendSize };
w.tubes = tubes;
w.Guacamole = Guacamole;
