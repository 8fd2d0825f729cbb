/**
 * `tubes bench … --report file.html`: one self-contained page (inline CSS and SVG, no script, no request
 * to anything) with the charts, the machine description, the tables as printed, and the raw JSON.
 */
import type { Chart } from './charts.ts';
import { describeMachine, type Json } from './lib.ts';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Inline Markdown of the tables' text: `code` and **bold** only. */
function inline(s: string): string {
  return esc(s)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

/** Markdown tables → <table>, other non-empty lines → paragraphs (what the benches print is no richer). */
export function markdownToHtml(text: string): string {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim().startsWith('|')) {
      const block: string[] = [];
      while (i < lines.length && (lines[i] ?? '').trim().startsWith('|'))
        block.push((lines[i++] ?? '').trim());
      i--;
      const cells = (l: string): string[] =>
        l
          .slice(1, l.endsWith('|') ? -1 : undefined)
          .split('|')
          .map((c) => c.trim());
      const [head, rule, ...body] = block;
      const right = cells(rule ?? '').map((c) => c.endsWith(':'));
      const td = (tag: string, c: string, k: number): string =>
        `<${tag}${right[k] ? ' class="num"' : ''}>${inline(c)}</${tag}>`;
      out.push(
        '<table>',
        `<thead><tr>${cells(head ?? '')
          .map((c, k) => td('th', c, k))
          .join('')}</tr></thead>`,
        '<tbody>',
        ...body.map(
          (r) =>
            `<tr>${cells(r)
              .map((c, k) => td('td', c, k))
              .join('')}</tr>`,
        ),
        '</tbody></table>',
      );
    } else if (line.trim() !== '') {
      out.push(`<p>${inline(line)}</p>`);
    }
  }
  return out.join('\n');
}

export interface ReportInput {
  bench: string;
  command: string;
  machine: Json;
  notes: string[];
  charts: Chart[];
  text: string;
  data: Json;
}

export function htmlReport(r: ReportInput): string {
  const charts = r.charts
    .map((c) => `<figure id="${esc(c.id)}" class="chart">\n${c.svg}\n</figure>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tubes bench ${esc(r.bench)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1000px; color: #111; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
.machine { color: #444; margin: 0 0 16px; }
figure.chart { margin: 16px 0 24px; border: 1px solid #ddd; border-radius: 6px; overflow: hidden; }
figure.chart svg { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; }
th { background: #f4f4f4; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.notes li { color: #8a4b00; }
pre { background: #f7f7f7; padding: 8px; overflow: auto; font-size: 11px; }
code { font-size: 12px; }
</style>
</head>
<body>
<h1>tubes bench ${esc(r.bench)}</h1>
<p class="machine"><strong>Machine:</strong> ${esc(describeMachine(r.machine))}<br><strong>Command:</strong> <code>${esc(r.command)}</code></p>
${r.notes.length ? `<ul class="notes">${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<section id="charts">
${charts || '<p>No chart for the rows of this run.</p>'}
</section>
<section id="tables">
<h2>Tables</h2>
${markdownToHtml(r.text)}
</section>
<details><summary>Raw JSON</summary><pre>${esc(JSON.stringify(r.data, null, 1))}</pre></details>
</body>
</html>
`;
}
