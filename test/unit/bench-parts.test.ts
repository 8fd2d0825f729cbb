/**
 * The parts of `tubes bench` that need no benchmark run: the progress line (redrawn on a TTY, plain lines
 * otherwise), the Markdown → HTML of the report's tables (escaped), the SVG charts (well-formed numbers,
 * log scales, gaps), and the registry (every bench has a name, help and options; --help exits 0).
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { barChart, lineChart, shortNumber } from '../../src/bench/charts.ts';
import { BENCHES } from '../../src/bench/index.ts';
import { Progress } from '../../src/bench/progress.ts';
import { htmlReport, markdownToHtml } from '../../src/bench/report.ts';
import { CLI, CLI_FLAGS } from '../helpers/cli.ts';

function sink(tty: boolean): { stream: NodeJS.WriteStream; text(): string } {
  const s = new PassThrough();
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  Object.assign(s, { isTTY: tty, columns: 60 });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => out };
}

describe('Progress', () => {
  it('not a TTY: only finished steps, as lines, no control characters', () => {
    const o = sink(false);
    const p = new Progress('x', o.stream);
    p.update('step one');
    p.log('one done');
    p.update('step two');
    p.done();
    expect(o.text()).toBe('one done\n');
  });

  it('a TTY: the step redrawn in place, cut to the width, cleared at the end', () => {
    const o = sink(true);
    const p = new Progress('x', o.stream);
    p.update('a step whose description is much longer than the sixty columns of this terminal');
    p.log('done');
    p.done();
    const t = o.text();
    expect(t.startsWith('\rbench x [0 s] a step')).toBe(true);
    expect(t).toContain('…\x1b[K');
    expect(t).toContain('\r\x1b[Kdone\n');
    expect(t.endsWith('\r\x1b[K')).toBe(true);
    for (const line of t.split('\r')) expect(line.replace('\x1b[K', '').length).toBeLessThanOrEqual(60);
  });
});

describe('report', () => {
  it('turns the printed tables into escaped HTML tables, numbers right-aligned', () => {
    const html = markdownToHtml(
      'Some `code` & <b>text</b>\n\n| case | ns |\n|---|--:|\n| a <x> | 12.5 |\n| **b** | 3 |\n',
    );
    expect(html).toContain('<p>Some <code>code</code> &amp; &lt;b&gt;text&lt;/b&gt;</p>');
    expect(html).toContain('<th>case</th><th class="num">ns</th>');
    expect(html).toContain('<td>a &lt;x&gt;</td><td class="num">12.5</td>');
    expect(html).toContain('<td><strong>b</strong></td>');
  });

  it('is one page with the machine, notes, charts and raw JSON, and nothing to fetch', () => {
    const chart = barChart({
      id: 'c1',
      title: 't',
      yLabel: 'MB/s',
      groups: [{ label: 'g', bars: [{ series: 's', value: 1 }] }],
    });
    const html = htmlReport({
      bench: 'x',
      command: 'tubes bench x --report r.html',
      machine: { cpu: 'CPU', cores: 2, node: 'v24', os: 'Linux', date: 'd', loadavg: [1, 2, 3] },
      notes: ['a <note>'],
      charts: [chart],
      text: '| a | b |\n|---|---|\n| 1 | 2 |',
      data: { rows: [1] },
    });
    expect(html).toContain('<figure id="c1" class="chart">');
    expect(html).toContain('<li>a &lt;note&gt;</li>');
    expect(html).toContain('CPU, 2 cores, Node v24, Linux, d, load average 1 2 3');
    expect(html).not.toMatch(/<script|<link|src=/);
  });
});

describe('charts', () => {
  it('shortNumber: 3 significant digits, k and M', () => {
    expect([0.0234, 1.5, 12.34, 123.4, 9999, 12_345, 2_500_000].map(shortNumber)).toEqual([
      '0.023',
      '1.5',
      '12.3',
      '123',
      '9999',
      '12.3k',
      '2.5M',
    ]);
  });

  it('line panels on a log scale: one path per series, a gap for a missing value, finite coordinates', () => {
    const c = lineChart({
      id: 'l',
      title: 'Title & more',
      yLabel: 'ns',
      yLog: true,
      panels: [
        {
          title: 'p',
          categories: ['a', 'b', 'c'],
          series: [
            { name: 'js', values: [10, undefined, 1000] },
            { name: 'auto', values: [20, 30, 40] },
          ],
        },
      ],
    });
    expect(c.svg).toContain('<title>Title &amp; more</title>');
    expect(c.svg).not.toMatch(/NaN|Infinity|undefined/);
    const paths = [...c.svg.matchAll(/<path d="([^"]+)"[^>]*stroke="([^"]+)"/g)];
    expect(paths).toHaveLength(2);
    // js: two separate moves (the gap), auto: a move and two lines, drawn dashed
    expect(paths[0]?.[1]?.match(/M/g)).toHaveLength(2);
    expect(paths[1]?.[1]?.match(/L/g)).toHaveLength(2);
    expect(c.svg).toContain('stroke-dasharray');
    expect(c.svg.match(/<circle /g)).toHaveLength(5);
  });

  it('bars with whiskers: heights ordered as the values', () => {
    const c = barChart({
      id: 'b',
      title: 'b',
      yLabel: 'MB/s',
      groups: [
        { label: 'slow', bars: [{ series: 'x', value: 10, low: 8, high: 12 }] },
        { label: 'fast', bars: [{ series: 'x', value: 40, low: 30, high: 45 }] },
      ],
    });
    expect(c.svg).not.toMatch(/NaN|Infinity|undefined/);
    const heights = [
      ...c.svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill/g),
    ].map((m) => Number(m[1]));
    expect(heights).toHaveLength(2);
    expect(heights[1]! / heights[0]!).toBeCloseTo(4, 1);
  });
});

describe('the registry', () => {
  it('every bench has a unique name, a summary, help with its options', () => {
    const names = BENCHES.map((b) => b.name);
    expect(names).toEqual([
      'hotpath',
      'tunnel',
      'transport',
      'socks5',
      'guacd',
      'workers',
      'micro',
      'live-buffers',
    ]);
    for (const b of BENCHES) {
      expect(b.summary.length).toBeGreaterThan(20);
      for (const opt of Object.keys(b.options)) expect(b.help, `${b.name} --${opt}`).toContain(`--${opt}`);
    }
  });

  it('tubes bench <name> --help prints the bench and the common options, exit 0', async () => {
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn(process.execPath, [...CLI_FLAGS, CLI, 'bench', 'socks5', '--help'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (t: string) => (text += t));
      child.once('close', (code) => resolve({ code, text }));
    });
    expect(out.code).toBe(0);
    expect(out.text).toContain('Usage: tubes bench socks5');
    expect(out.text).toContain('--setup <n>');
    expect(out.text).toContain('--report <file>');
  });
});
