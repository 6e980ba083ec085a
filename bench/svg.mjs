// Bar charts as SVG text, for the benchmark reports: no dependency, nothing
// to install, and the files diff as text and render on GitHub and in any
// browser.
//
// One chart shape: grouped horizontal bars. Each group is one row label (a
// workload, a value size, a checkpoint count) holding one bar per series (a
// system), each series in its own colour in every group, with its value
// written after the bar. Horizontal bars leave room for long labels and
// values; a missing value is drawn as "n/a" instead of a bar, so a system
// that was not measured is not mistaken for a slow one.
//
// Text widths are estimated (no font metrics without a renderer): about 0.6
// of the font size per character, generous for the sans-serif fonts viewers
// pick.

const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const CHAR_WIDTH_PER_PX = 0.6;

const BAR_PX = 14; // height of one bar
const BAR_GAP_PX = 2; // between the bars of a group
const GROUP_GAP_PX = 12; // between groups
const WIDTH_PX = 760;
const MARGIN_PX = 16;
const VALUE_ROOM_PX = 64; // right of the plot, for the value after the longest bar

function escapeXml(text) {
  return String(text).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
}

const textWidth = (text, fontPx) => String(text).length * fontPx * CHAR_WIDTH_PER_PX;

/** Lines of text no wider than widthPx (estimated), broken at spaces; a longer word gets a line of its own. */
function wrap(text, widthPx, fontPx) {
  const lines = [];
  let line = '';
  for (const word of text.split(' ').filter((w) => w !== '')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (line !== '' && textWidth(candidate, fontPx) > widthPx) {
      lines.push(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** Default value label: three significant digits at most, no exponent. */
export function formatValue(v) {
  if (v === 0) return '0';
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(v))));
  return v.toFixed(Math.min(digits, 3));
}

/** A round axis maximum and step (1, 2 or 5 × 10^k) giving about five ticks. */
function niceAxis(max) {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return { max: Math.ceil(max / step - 1e-9) * step, step };
}

/**
 * The SVG document of a grouped horizontal bar chart.
 *
 *   title      heading of the chart
 *   subtitle   one line under it (what was measured; "higher is better")
 *   axisLabel  the unit, under the x axis
 *   series     [{ name, color }]: one bar per series in every group, legend order
 *   groups     [{ label, values }]: values[i] belongs to series[i]; null or
 *              undefined = not measured (drawn as "n/a")
 *   format     value label of a bar (default formatValue)
 *   note       optional last line (the command, the run)
 */
export function groupedBarChart({ title, subtitle = '', axisLabel, series, groups, format = formatValue, note = '' }) {
  const out = [];
  const labelPx = Math.min(260, Math.max(60, ...groups.map((g) => textWidth(g.label, 12)))) + 10;
  const plotLeft = MARGIN_PX + labelPx;
  const plotRight = WIDTH_PX - MARGIN_PX - VALUE_ROOM_PX;
  const plotWidth = plotRight - plotLeft;

  // Legend: swatches in rows that wrap at the chart's width.
  let y = MARGIN_PX + 16;
  const head = [`<text x="${MARGIN_PX}" y="${y}" font-size="16" font-weight="600">${escapeXml(title)}</text>`];
  for (const line of wrap(subtitle, WIDTH_PX - 2 * MARGIN_PX, 12)) {
    y += 18;
    head.push(`<text x="${MARGIN_PX}" y="${y}" font-size="12" fill="#444">${escapeXml(line)}</text>`);
  }
  y += 24;
  let x = MARGIN_PX;
  for (const s of series) {
    const w = 18 + textWidth(s.name, 12) + 18;
    if (x + w > WIDTH_PX - MARGIN_PX && x > MARGIN_PX) {
      x = MARGIN_PX;
      y += 20;
    }
    head.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${s.color}"/>`);
    head.push(`<text x="${x + 18}" y="${y}" font-size="12">${escapeXml(s.name)}</text>`);
    x += w;
  }
  const plotTop = y + 16;

  const measured = groups.flatMap((g) => g.values.filter((v) => typeof v === 'number' && Number.isFinite(v)));
  const axis = niceAxis(Math.max(0, ...measured));
  const scale = (v) => (Math.max(0, v) / axis.max) * plotWidth;

  // Groups and their bars.
  const bars = [];
  y = plotTop;
  for (const g of groups) {
    const groupHeight = series.length * (BAR_PX + BAR_GAP_PX) - BAR_GAP_PX;
    bars.push(
      `<text x="${plotLeft - 8}" y="${(y + groupHeight / 2 + 4).toFixed(1)}" font-size="12" text-anchor="end">${escapeXml(g.label)}</text>`,
    );
    series.forEach((s, i) => {
      const v = g.values[i];
      const barY = y + i * (BAR_PX + BAR_GAP_PX);
      const textY = (barY + BAR_PX / 2 + 3.5).toFixed(1);
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        bars.push(`<text x="${plotLeft + 4}" y="${textY}" font-size="10" fill="#888">n/a</text>`);
        return;
      }
      const w = scale(v);
      bars.push(
        `<rect x="${plotLeft}" y="${barY}" width="${w.toFixed(1)}" height="${BAR_PX}" fill="${s.color}"><title>${escapeXml(`${g.label}, ${s.name}: ${format(v)}`)}</title></rect>`,
      );
      bars.push(`<text x="${(plotLeft + w + 4).toFixed(1)}" y="${textY}" font-size="10">${escapeXml(format(v))}</text>`);
    });
    y += groupHeight + GROUP_GAP_PX;
  }
  const plotBottom = y - GROUP_GAP_PX + 6;

  // Axis: grid lines and ticks under the bars.
  const grid = [];
  const tickDecimals = Math.max(0, -Math.floor(Math.log10(axis.step) + 1e-9));
  for (let i = 0; i * axis.step <= axis.max * (1 + 1e-9); i++) {
    const t = i * axis.step;
    const gx = (plotLeft + scale(t)).toFixed(1);
    grid.push(`<line x1="${gx}" y1="${plotTop - 4}" x2="${gx}" y2="${plotBottom}" stroke="${t === 0 ? '#333' : '#ddd'}" stroke-width="1"/>`);
    grid.push(`<text x="${gx}" y="${plotBottom + 14}" font-size="10" text-anchor="middle" fill="#444">${t.toFixed(tickDecimals)}</text>`);
  }
  grid.push(`<line x1="${plotLeft}" y1="${plotBottom}" x2="${plotRight}" y2="${plotBottom}" stroke="#333" stroke-width="1"/>`);
  let bottom = plotBottom + 32;
  const foot = [`<text x="${(plotLeft + plotWidth / 2).toFixed(1)}" y="${bottom}" font-size="12" text-anchor="middle">${escapeXml(axisLabel)}</text>`];
  for (const line of wrap(note, WIDTH_PX - 2 * MARGIN_PX, 10)) {
    bottom += 14;
    foot.push(`<text x="${MARGIN_PX}" y="${bottom}" font-size="10" fill="#666">${escapeXml(line)}</text>`);
  }
  const height = Math.ceil(bottom + MARGIN_PX);

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH_PX}" height="${height}" viewBox="0 0 ${WIDTH_PX} ${height}" role="img" aria-label="${escapeXml(title)}" font-family="${escapeXml(FONT)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH_PX}" height="${height}" fill="#fff"/>`,
    ...head,
    ...grid,
    ...bars,
    ...foot,
    '</svg>',
  );
  return out.join('\n') + '\n';
}
