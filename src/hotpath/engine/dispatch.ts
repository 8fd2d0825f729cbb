/**
 * Engine selection. `TUBES_HOTPATH=auto|js|wasm|wasm-simd` (default auto) sets the default; an explicit
 * `engine` option wins. A Wasm engine that fails to load falls back to the next one (wasm-simd → wasm →
 * js) with a one-time process warning, and `engine()` / `engineInfo()` tell what runs.
 * `auto` picks JS or the best Wasm engine per call by input size (thresholds measured by
 * bench/hotpath.ts, see docs/PERFORMANCE.md).
 */
import type { EngineChoice, EngineName } from './constants.ts';
import { checkFrameArgs, encodeFrameJs } from './frame-codec.ts';
import { countCodePointsJs, jsFrameWalker } from './js.ts';
import { tryLoad, type WasmEngine, type WasmEngineName } from './loader.ts';
import type { FrameWalker } from './walker.ts';
import { countCodePointsWasm, encodeFrameWasm, makeWasmFrameWalker } from './wasm.ts';

/** Measured crossover points for `auto` (bench/hotpath.ts; docs/PERFORMANCE.md "Hot paths"). */
export const AUTO_THRESHOLDS = {
  /** countCodePoints: JS below this many bytes (the copy into Wasm memory plus the call cost more). */
  countCodePointsWasmMinBytes: 48,
  /** Guacamole scan of bytes already in Wasm memory (reserve/commit, or a buffered tail): JS below. */
  guacInWasmMinBytes: 96,
  /** Guacamole scan of a pushed chunk (needs a copy into Wasm memory): JS below this many bytes. */
  guacPushWasmMinBytes: 96,
  /** Pushed chunks at least this long that look like base64 display data (a value >= 256 B among the first 12
   * elements, ASCII up to 64 bytes into it) scan in JS: native isAscii beats the copy into Wasm memory. A
   * buffered tail of such an instruction is kept in JS memory and the next push continues there. */
  guacPushAsciiProbeMinBytes: 1024,
};

const CHOICES: readonly EngineChoice[] = ['auto', 'js', 'wasm', 'wasm-simd'];

export interface EngineInfo {
  /** Default choice (TUBES_HOTPATH, else auto). */
  requested: EngineChoice;
  /** Best engine in use for large inputs under the default choice. */
  engine: EngineName;
  /** Per Wasm engine: true if loaded, else the load error message (only engines tried so far). */
  wasm: Partial<Record<WasmEngineName, true | string>>;
}

let requested: EngineChoice | undefined;
const loaded = new Map<WasmEngineName, WasmEngine | Error>();
const walkers = new Map<WasmEngineName, FrameWalker>();
let failForTests: readonly WasmEngineName[] = [];

function readEnv(): EngineChoice {
  const raw = (process.env['TUBES_HOTPATH'] ?? '').trim().toLowerCase();
  if (raw === '') return 'auto';
  if ((CHOICES as readonly string[]).includes(raw)) return raw as EngineChoice;
  process.emitWarning(`TUBES_HOTPATH=${raw} is not one of ${CHOICES.join(', ')}; using auto`, {
    code: 'TUBES_HOTPATH_INVALID',
  });
  return 'auto';
}

export function requestedEngine(): EngineChoice {
  requested ??= readEnv();
  return requested;
}

/** The loaded Wasm engine of that name, or undefined (with a one-time warning) if it cannot load. */
export function wasmEngine(name: WasmEngineName): WasmEngine | undefined {
  let e = loaded.get(name);
  if (e === undefined) {
    e = failForTests.includes(name) ? new Error('load failure simulated by a test') : tryLoad(name);
    loaded.set(name, e);
    if (e instanceof Error) {
      process.emitWarning(`webrtc-tubes: ${name} hot-path engine unavailable (${e.message}); falling back`, {
        code: 'TUBES_HOTPATH_FALLBACK',
      });
    }
  }
  return e instanceof Error ? undefined : e;
}

interface Resolved {
  auto: boolean;
  wasm: WasmEngine | undefined;
}
const resolved = new Map<EngineChoice, Resolved>();

/** Best engine not above `choice` that loads: wasm-simd → wasm → js (cached per choice). */
export function resolveEngine(choice: EngineChoice | undefined): Resolved {
  const c = choice ?? requestedEngine();
  let r = resolved.get(c);
  if (r === undefined) {
    const wasm =
      c === 'js' ? undefined : ((c !== 'wasm' ? wasmEngine('wasm-simd') : undefined) ?? wasmEngine('wasm'));
    r = { auto: c === 'auto', wasm };
    resolved.set(c, r);
  }
  return r;
}

/** The engine that runs under the default choice (for large inputs when auto). */
export function engine(): EngineName {
  return resolveEngine(undefined).wasm?.name ?? 'js';
}

export function engineInfo(): EngineInfo {
  const current = engine();
  const wasm: EngineInfo['wasm'] = {};
  for (const [name, e] of loaded) wasm[name] = e instanceof Error ? e.message : true;
  return { requested: requestedEngine(), engine: current, wasm };
}

/** Test hook: forget loaded engines and the env choice; optionally make some engines fail to load. */
export function resetEnginesForTests(options: { fail?: readonly WasmEngineName[] } = {}): void {
  requested = undefined;
  loaded.clear();
  walkers.clear();
  failForTests = options.fail ?? [];
  resolved.clear();
}

function walkerFor(e: WasmEngine): FrameWalker {
  let w = walkers.get(e.name);
  if (w === undefined) {
    w = makeWasmFrameWalker(e);
    walkers.set(e.name, w);
  }
  return w;
}

/**
 * Frame walker for a decoder. Auto uses the JS walker: frames arrive in JS buffers, and copying them
 * into Wasm memory costs more than walking the headers (measured, docs/PERFORMANCE.md).
 */
export function chooseFrameWalker(choice: EngineChoice | undefined): FrameWalker {
  const { auto, wasm } = resolveEngine(choice);
  if (auto || wasm === undefined) return jsFrameWalker;
  return walkerFor(wasm);
}

/** Number of Unicode code points in `utf8` (counts non-continuation bytes; the input is assumed valid). */
export function countCodePoints(utf8: Uint8Array): number {
  const { auto, wasm } = resolveEngine(undefined);
  if (wasm === undefined || (auto && utf8.length < AUTO_THRESHOLDS.countCodePointsWasmMinBytes)) {
    return countCodePointsJs(utf8, 0, utf8.length);
  }
  return countCodePointsWasm(wasm, utf8);
}

/** countCodePoints on a named engine (benchmarks and parity tests). */
export function countCodePointsWith(choice: EngineChoice, utf8: Uint8Array): number {
  const { auto, wasm } = resolveEngine(choice);
  if (wasm === undefined || (auto && utf8.length < AUTO_THRESHOLDS.countCodePointsWasmMinBytes)) {
    return countCodePointsJs(utf8, 0, utf8.length);
  }
  return countCodePointsWasm(wasm, utf8);
}

/** Encodes one frame into a fresh Buffer. Auto always uses JS (one copy instead of two). */
export function encodeFrame(connNo: number, payload: Uint8Array, timestampMs: number = Date.now()): Buffer {
  const ts = checkFrameArgs(connNo, payload, timestampMs);
  const { auto, wasm } = resolveEngine(undefined);
  if (wasm === undefined || auto) return encodeFrameJs(connNo, payload, ts);
  return encodeFrameWasm(wasm, connNo, payload, ts);
}

/** encodeFrame on a named engine (benchmarks and parity tests). */
export function encodeFrameWith(
  choice: EngineChoice,
  connNo: number,
  payload: Uint8Array,
  timestampMs: number = Date.now(),
): Buffer {
  const ts = checkFrameArgs(connNo, payload, timestampMs);
  const { auto, wasm } = resolveEngine(choice);
  if (wasm === undefined || auto) return encodeFrameJs(connNo, payload, ts);
  return encodeFrameWasm(wasm, connNo, payload, ts);
}
