import type { EngineChoice, EngineName } from './constants.ts';
import { countCodePointsJs, jsFrameWalker } from './js.ts';
import type { FrameWalker } from './walker.ts';

/** The engine that runs (best available, or forced by TUBES_HOTPATH). */
export function engine(): EngineName {
  return 'js';
}

export function chooseFrameWalker(_choice: EngineChoice | undefined): FrameWalker {
  return jsFrameWalker;
}

/** Number of Unicode code points in `utf8` (counts non-continuation bytes; input assumed valid UTF-8). */
export function countCodePoints(utf8: Uint8Array): number {
  return countCodePointsJs(utf8, 0, utf8.length);
}
