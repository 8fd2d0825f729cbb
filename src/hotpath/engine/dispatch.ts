/**
 * Engine selection. `TUBES_HOTPATH=auto|js|wasm|wasm-simd` (default auto) sets the default; an explicit
 * `engine` option wins. A Wasm engine that fails to load falls back to the next one (wasm-simd → wasm →
 * js) with a one-time process warning, and `engine()` / `engineInfo()` tell what runs. What `auto` runs
 * per call is decided by the probes of ./auto.ts.
 */
import { emitWarning, hotpathEnvChoice } from '../../platform/bytes.ts';
import { tryLoad, type WasmEngine } from './loader.ts';
import type { EngineChoice, EngineName, WasmEngineName } from './types.ts';

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
let failForTests: readonly WasmEngineName[] = [];

function readEnv(): EngineChoice {
  const raw = hotpathEnvChoice().trim().toLowerCase();
  if (raw === '') return 'auto';
  if ((CHOICES as readonly string[]).includes(raw)) return raw as EngineChoice;
  emitWarning(
    `TUBES_HOTPATH=${raw} is not one of ${CHOICES.join(', ')}; using auto`,
    'TUBES_HOTPATH_INVALID',
  );
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
      emitWarning(
        `webrtc-tubes: ${name} hot-path engine unavailable (${e.message}); falling back`,
        'TUBES_HOTPATH_FALLBACK',
      );
    }
  }
  return e instanceof Error ? undefined : e;
}

export interface Resolved {
  /** The choice was `auto`: route each call with the probes of ./auto.ts. */
  auto: boolean;
  /** The best Wasm engine not above the choice that loads; undefined means JS. */
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
  failForTests = options.fail ?? [];
  resolved.clear();
}
