/**
 * `tubes bench hotpath --report`: the HTML page is self-contained and its charts render. A short real run
 * (a few rows, one round, 5 ms per task) writes the report; Debian's Chromium (playwright-core, headless)
 * opens it from a file URL while every request is recorded (only the page itself may be fetched), each
 * chart is screenshotted into test-artifacts/bench-report/ (gitignored), and the screenshots' pixels are
 * counted: the chart area is not blank and the engines' line colours are drawn.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CHART_DIR, DOC, perfCharts } from '../../scripts/perf-charts.ts';
import { CLI, CLI_FLAGS } from '../helpers/cli.ts';
import { CHROMIUM, requireChromium } from '../helpers/skip.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'bench-report');
const missing = requireChromium({ suite: 'the HTML report test', netns: false });

/** Rows of every chart kind, a handful each, so the run takes seconds. */
const FILTER =
  '^(frame parse (0|1500|65507) B|frame encode (64|8192) B|guac (ASCII|Japanese) ~\\d+ B.*|guac 64 KiB stream clipboard UTF-8, push|countCodePoints (16|4096) B)$';

const work = mkdtempSync(path.join(tmpdir(), 'tubes-bench-report-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function runCli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...CLI_FLAGS, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (err += t));
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

interface PixelStats {
  width: number;
  height: number;
  nonWhite: number;
  colours: Record<string, number>;
}

describe.skipIf(missing !== undefined)('tubes bench hotpath --report', () => {
  it('writes a self-contained page whose charts Chromium renders', async () => {
    const report = path.join(work, 'bench.html');
    const r = await runCli([
      'bench',
      'hotpath',
      '--filter',
      FILTER,
      '--rounds',
      '1',
      '--time',
      '5',
      '--json',
      '--report',
      report,
    ]);
    expect(r.code, r.err).toBe(0);
    const json = JSON.parse(r.out) as { rows: { case: string }[] };
    expect(json.rows.length).toBeGreaterThanOrEqual(12);

    const html = readFileSync(report, 'utf8');
    // nothing to fetch: no script or stylesheet reference, no URL other than the SVG namespace
    expect(html).not.toMatch(/<script|<link|<img|<iframe|url\(/i);
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(/https?:\/\//);
    expect(html).toContain('<strong>Machine:</strong>');

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
      timeout: 30_000,
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      const url = pathToFileURL(report).href;
      await page.goto(url, { waitUntil: 'load' });
      expect(requests).toEqual([url]);

      const ids = await page.$$eval('figure.chart', (els) => els.map((e) => e.id));
      expect(ids).toEqual([
        'hotpath-guac-by-size',
        'hotpath-frames-by-size',
        'hotpath-guac-streams',
        'hotpath-codepoints-by-size',
      ]);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'page.png'), fullPage: true });
      const probe = await browser.newPage();
      for (const id of ids) {
        const png = await page.locator(`figure#${id}`).screenshot();
        writeFileSync(path.join(ARTIFACTS, `${id}.png`), png);
        const stats = (await probe.evaluate(async (b64: string) => {
          // the project compiles without the DOM library: the few browser APIs used here, typed by hand
          const page = globalThis as unknown as {
            Image: new () => { src: string; width: number; height: number; decode(): Promise<void> };
            document: { createElement(t: string): unknown };
          };
          const img = new page.Image();
          img.src = `data:image/png;base64,${b64}`;
          await img.decode();
          const canvas = page.document.createElement('canvas') as {
            width: number;
            height: number;
            getContext(t: string): {
              drawImage(i: unknown, x: number, y: number): void;
              getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
            };
          };
          canvas.width = img.width;
          canvas.height = img.height;
          const ctx = canvas.getContext('2d');
          ctx.drawImage(img, 0, 0);
          // below the title, subtitle and legend (the top 84 of 960 SVG units): the plotted area only
          const top = Math.ceil((img.width / 960) * 84);
          const { data } = ctx.getImageData(0, top, img.width, img.height - top);
          const want: Record<string, number[]> = {
            js: [0xd0, 0x8c, 0x00],
            wasm: [0x2a, 0x9d, 0x8f],
            'wasm-simd': [0x3a, 0x5b, 0xc7],
            auto: [0xd1, 0x49, 0x5b],
          };
          const colours: Record<string, number> = { js: 0, wasm: 0, 'wasm-simd': 0, auto: 0 };
          let nonWhite = 0;
          for (let i = 0; i < data.length; i += 4) {
            const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
            if (r < 235 || g < 235 || b < 235) nonWhite++;
            for (const [k, c] of Object.entries(want)) {
              if (Math.abs(r - c[0]!) + Math.abs(g - c[1]!) + Math.abs(b - c[2]!) < 40) colours[k]!++;
            }
          }
          return { width: img.width, height: img.height, nonWhite: nonWhite / (data.length / 4), colours };
        }, png.toString('base64'))) as PixelStats;
        console.log(`[bench-report] ${id} ${JSON.stringify(stats)}`);
        expect(stats.width).toBeGreaterThan(600);
        expect(stats.height).toBeGreaterThan(200);
        // not blank: axes, grid, labels and data marks cover a few per cent of the area
        expect(stats.nonWhite).toBeGreaterThan(0.02);
        // every engine's series is drawn in the plot area (a 6.4-pixel marker alone is ~32 pixels)
        for (const engine of ['js', 'wasm', 'wasm-simd', 'auto']) {
          expect(stats.colours[engine], `${id}: ${engine} pixels`).toBeGreaterThan(100);
        }
      }
    } finally {
      await browser.close();
    }
  }, 90_000);
});

describe('docs/charts', () => {
  it("are the charts of docs/PERFORMANCE.md's tables (regenerate: node scripts/perf-charts.ts)", () => {
    const charts = perfCharts(readFileSync(DOC, 'utf8'));
    expect(charts.map((c) => c.id).sort()).toEqual(
      readdirSync(CHART_DIR)
        .filter((f) => f.endsWith('.svg'))
        .map((f) => f.slice(0, -4))
        .sort(),
    );
    for (const c of charts) {
      expect(readFileSync(path.join(CHART_DIR, `${c.id}.svg`), 'utf8'), c.id).toBe(`${c.svg}\n`);
      expect(readFileSync(DOC, 'utf8'), `PERFORMANCE.md embeds ${c.id}`).toContain(`(charts/${c.id}.svg)`);
    }
  });
});
