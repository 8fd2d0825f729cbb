/**
 * Charts as standalone SVG strings (no script, no external font or asset), used inline by the HTML report
 * (./report.ts) and written as files by `--svg <dir>` (docs/charts/ is generated that way). Two shapes:
 * line panels over categories (ns per instruction by size, one line per engine) and grouped bars with an
 * optional min–max whisker (MB/s per stack, RTT percentiles per path).
 */

export interface Chart {
  /** File name stem for `--svg` (`<id>.svg`) and the HTML anchor. */
  id: string;
  title: string;
  svg: string;
}

export interface LineSeries {
  name: string;
  /** One value per category of the panel; undefined leaves a gap. */
  values: (number | undefined)[];
}

export interface LinePanel {
  title: string;
  categories: string[];
  series: LineSeries[];
}

export interface Bar {
  series: string;
  value: number;
  low?: number;
  high?: number;
}

export interface BarGroup {
  label: string;
  bars: Bar[];
}

interface Common {
  id: string;
  title: string;
  /** Second line under the title: the source of the figures (machine, date, run or document). */
  subtitle?: string;
  yLabel: string;
  yLog?: boolean;
}

/** Colours per series name; engines and stacks keep the same colour in every chart. */
const NAMED: Record<string, string> = {
  js: '#d08c00',
  wasm: '#2a9d8f',
  'wasm-simd': '#3a5bc7',
  auto: '#d1495b',
};
const PALETTE = ['#3a5bc7', '#d08c00', '#d1495b', '#2a9d8f', '#6a4c93', '#8c564b', '#e377c2', '#7f7f7f'];

function colours(names: string[]): Map<string, string> {
  const m = new Map<string, string>();
  let i = 0;
  for (const n of names) {
    if (m.has(n)) continue;
    m.set(n, NAMED[n] ?? PALETTE[i++ % PALETTE.length] ?? '#333');
  }
  return m;
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Short number for axis ticks and labels: 3 significant digits, k/M suffixes above 10,000. */
export function shortNumber(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return `${trim(v / 1e6)}M`;
  if (a >= 1e4) return `${trim(v / 1e3)}k`;
  return trim(v);
}
function trim(v: number): string {
  const a = Math.abs(v);
  const s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}

interface Scale {
  at(v: number): number;
  ticks: number[];
}

/** `bars`: on a log scale the axis starts at least a factor 2 below the smallest value, so no bar is a sliver. */
function scale(values: number[], lo: number, hi: number, log: boolean, bars = false): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  let min = finite.length ? Math.min(...finite) : 1;
  let max = finite.length ? Math.max(...finite) : 1;
  if (log) {
    let a = Math.floor(Math.log10(bars ? min / 2 : min));
    let b = Math.ceil(Math.log10(max));
    if (a === b) {
      a -= 1;
      b += 1;
    }
    const ticks: number[] = [];
    for (let e = a; e <= b; e++) {
      for (const m of b - a <= 2 ? [1, 2, 5] : [1]) {
        const t = m * 10 ** e;
        if (t >= 10 ** a && t <= 10 ** b) ticks.push(t);
      }
    }
    return { at: (v) => lo - ((Math.log10(Math.max(v, 10 ** a)) - a) / (b - a)) * (lo - hi), ticks };
  }
  min = Math.min(0, min);
  if (max === min) max = min + 1;
  const raw = (max - min) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const top = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= top + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { at: (v) => lo - ((v - min) / (top - min)) * (lo - hi), ticks };
}

const W = 960;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

function frame(
  o: Common,
  height: number,
  body: string,
  legend: string[],
  colour: Map<string, string>,
): string {
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${esc(o.title)}" ${FONT}>`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="${W}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="26" font-size="17" font-weight="600" fill="#111">${esc(o.title)}</text>`,
  );
  if (o.subtitle) parts.push(`<text x="16" y="46" font-size="12" fill="#555">${esc(o.subtitle)}</text>`);
  let x = 16;
  for (const name of legend) {
    parts.push(
      `<rect x="${x}" y="58" width="12" height="12" rx="2" fill="${colour.get(name)}"/>`,
      `<text x="${x + 17}" y="69" font-size="12" fill="#222">${esc(name)}</text>`,
    );
    x += 17 + name.length * 7 + 22;
  }
  parts.push(body, '</svg>');
  return parts.join('\n');
}

function yAxis(s: Scale, left: number, right: number, label: string, top: number, bottom: number): string {
  const out: string[] = [];
  for (const t of s.ticks) {
    const y = s.at(t).toFixed(1);
    out.push(
      `<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="#e3e3e3"/>`,
      `<text x="${left - 5}" y="${y}" dy="4" font-size="10" text-anchor="end" fill="#555">${shortNumber(t)}</text>`,
    );
  }
  const mid = ((top + bottom) / 2).toFixed(0);
  out.push(
    `<text transform="translate(${left - 40} ${mid}) rotate(-90)" font-size="11" text-anchor="middle" fill="#333">${esc(label)}</text>`,
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#999"/>`,
    `<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#999"/>`,
  );
  return out.join('\n');
}

/** Small multiples: one panel per entry, a line per series across the panel's categories. */
export function lineChart(o: Common & { panels: LinePanel[]; cols?: number }): Chart {
  const names = o.panels.flatMap((p) => p.series.map((s) => s.name));
  const colour = colours(names);
  const cols = Math.min(o.cols ?? 3, o.panels.length);
  const rows = Math.ceil(o.panels.length / cols);
  const top = 84;
  const ph = 230;
  const pw = (W - 16) / cols;
  const all = o.panels.flatMap((p) => p.series.flatMap((s) => s.values)).filter((v) => v !== undefined);
  const body: string[] = [];
  o.panels.forEach((p, i) => {
    const x0 = 16 + (i % cols) * pw;
    const y0 = top + Math.floor(i / cols) * ph;
    const left = x0 + 58;
    const right = x0 + pw - 14;
    const t = y0 + 26;
    const b = y0 + ph - 42;
    const s = scale(all, b, t, o.yLog === true);
    body.push(
      `<text x="${x0 + pw / 2}" y="${y0 + 14}" font-size="13" font-weight="600" text-anchor="middle" fill="#222">${esc(p.title)}</text>`,
      yAxis(s, left, right, o.yLabel, t, b),
    );
    const n = p.categories.length;
    const xAt = (k: number): number =>
      n === 1 ? (left + right) / 2 : left + 12 + (k * (right - left - 24)) / (n - 1);
    p.categories.forEach((c, k) => {
      body.push(
        `<text x="${xAt(k).toFixed(1)}" y="${b + 15}" font-size="10" text-anchor="middle" fill="#444">${esc(c)}</text>`,
      );
    });
    // Series often coincide (auto runs one of the engines; wasm and wasm-simd copy alike): each later series
    // is drawn thinner and with a smaller marker, so every one stays visible as a stripe or a ring.
    const order = [...colour.keys()];
    const ok = (v: number | undefined): v is number =>
      v !== undefined && Number.isFinite(v) && !(o.yLog && v <= 0);
    const rank = (name: string): number => Math.max(0, order.indexOf(name));
    const paths: string[] = [];
    const marks: string[] = [];
    for (const ser of p.series) {
      const col = colour.get(ser.name);
      const k0 = rank(ser.name);
      let d = '';
      let pen = false;
      ser.values.forEach((v, k) => {
        if (!ok(v)) {
          pen = false;
          return;
        }
        d += `${pen ? 'L' : 'M'}${xAt(k).toFixed(1)} ${s.at(v).toFixed(1)} `;
        pen = true;
      });
      // `auto` runs one of the engines: dashed, so the engine line under it stays visible
      const dash = ser.name === 'auto' ? ' stroke-dasharray="7 5"' : '';
      const width = Math.max(1.6, 3.6 - 0.8 * k0).toFixed(1);
      if (d) paths.push(`<path d="${d.trim()}" fill="none" stroke="${col}" stroke-width="${width}"${dash}/>`);
      const r = Math.max(2.5, 5.5 - k0).toFixed(1);
      ser.values.forEach((v, k) => {
        if (!ok(v)) return;
        marks.push(
          `<circle cx="${xAt(k).toFixed(1)}" cy="${s.at(v).toFixed(1)}" r="${r}" fill="${col}"><title>${esc(`${p.title} · ${p.categories[k]} · ${ser.name}: ${shortNumber(v)} ${o.yLabel}`)}</title></circle>`,
        );
      });
    }
    body.push(...paths, ...marks);
  });
  const svg = frame(o, top + rows * ph + 8, body.join('\n'), [...colour.keys()], colour);
  return { id: o.id, title: o.title, svg };
}

/** Grouped bars (one group per label, one bar per series) with optional min–max whiskers and value labels. */
export function barChart(o: Common & { groups: BarGroup[] }): Chart {
  const names = o.groups.flatMap((g) => g.bars.map((b) => b.series));
  const colour = colours(names);
  const series = [...colour.keys()];
  const top = 112;
  const plotH = 300;
  const left = 74;
  const right = W - 16;
  const b = top + plotH;
  const values = o.groups.flatMap((g) =>
    g.bars.flatMap((x) => [x.value, x.low ?? x.value, x.high ?? x.value]),
  );
  const s = scale(values, b, top, o.yLog === true, true);
  const body: string[] = [yAxis(s, left, right, o.yLabel, top, b)];
  const gw = (right - left) / Math.max(1, o.groups.length);
  const bw = Math.min(46, (gw - 16) / Math.max(1, series.length));
  const lines = (label: string): string[] => {
    const words = label.split(' ');
    const out: string[] = [];
    let line = '';
    const max = Math.max(8, Math.floor(gw / 6.2));
    for (const w of words) {
      if (line && (line + w).length + 1 > max) {
        out.push(line);
        line = w;
      } else line = line ? `${line} ${w}` : w;
    }
    if (line) out.push(line);
    return out.slice(0, 4);
  };
  let labelRows = 1;
  o.groups.forEach((g, gi) => {
    const cx = left + gw * gi + gw / 2;
    const present = series.filter((n) => g.bars.some((x) => x.series === n));
    present.forEach((n, k) => {
      const bar = g.bars.find((x) => x.series === n);
      if (!bar || !Number.isFinite(bar.value)) return;
      const x = cx - (present.length * bw) / 2 + k * bw;
      const y = s.at(bar.value);
      const base = o.yLog ? b : s.at(0);
      body.push(
        `<rect x="${(x + 2).toFixed(1)}" y="${Math.min(y, base).toFixed(1)}" width="${(bw - 4).toFixed(1)}" height="${Math.max(1, Math.abs(base - y)).toFixed(1)}" fill="${colour.get(n)}"><title>${esc(`${g.label} · ${n}: ${shortNumber(bar.value)} ${o.yLabel}`)}</title></rect>`,
      );
      if (bar.low !== undefined && bar.high !== undefined) {
        const wx = (x + bw / 2).toFixed(1);
        const y1 = s.at(bar.low).toFixed(1);
        const y2 = s.at(bar.high).toFixed(1);
        body.push(
          `<line x1="${wx}" x2="${wx}" y1="${y1}" y2="${y2}" stroke="#222" stroke-width="1.2"/>`,
          `<line x1="${(x + bw / 2 - 5).toFixed(1)}" x2="${(x + bw / 2 + 5).toFixed(1)}" y1="${y2}" y2="${y2}" stroke="#222"/>`,
          `<line x1="${(x + bw / 2 - 5).toFixed(1)}" x2="${(x + bw / 2 + 5).toFixed(1)}" y1="${y1}" y2="${y1}" stroke="#222"/>`,
        );
      }
      const labelY = Math.min(y, bar.high !== undefined ? s.at(bar.high) : y) - 4;
      const lx = (x + bw / 2).toFixed(1);
      // narrow bars: the value reads upwards from the bar's top
      body.push(
        bw < 30
          ? `<text transform="translate(${(x + bw / 2 + 3.5).toFixed(1)} ${labelY.toFixed(1)}) rotate(-90)" font-size="10" fill="#222">${shortNumber(bar.value)}</text>`
          : `<text x="${lx}" y="${labelY.toFixed(1)}" font-size="10" text-anchor="middle" fill="#222">${shortNumber(bar.value)}</text>`,
      );
    });
    const ls = lines(g.label);
    labelRows = Math.max(labelRows, ls.length);
    ls.forEach((l, i) => {
      body.push(
        `<text x="${cx.toFixed(1)}" y="${b + 16 + i * 13}" font-size="11" text-anchor="middle" fill="#333">${esc(l)}</text>`,
      );
    });
  });
  const svg = frame(o, b + 16 + labelRows * 13 + 10, body.join('\n'), series, colour);
  return { id: o.id, title: o.title, svg };
}
