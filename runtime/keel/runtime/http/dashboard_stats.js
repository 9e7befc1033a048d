// The dashboard's node history and actor tables, from GET /v1/stats: inlined into
// dashboard.html at build time (cmake/embed_text.cmake), so the page stays one file with no
// external assets. Uses the page's helpers ($, esc, clock, readJson, every, valueTicks,
// timeTicks).
'use strict';
const STATS_MS = 5000;  // the node closes an interval every 5 s: polling faster shows nothing new
const HISTORY_S = 15 * 60;
const SVG_NS = 'http://www.w3.org/2000/svg';
const historyCharts = [
  {id: 'h-activity', unit: '/s', title: 'turns and durable commits per second', series: [
    {label: 'turns/s', color: '#2f6fde', of: s => rate(s.turns, s)},
    {label: 'durable commits/s', color: '#2b8a3e', dash: '6 4', of: s => rate(s.durableCommits, s)}]},
  {id: 'h-http', unit: 'req/s', title: 'HTTP requests per second by status class', series: [
    {label: '2xx', color: '#2b8a3e', of: s => rate(s.http2xx, s)},
    {label: '4xx', color: '#f08c00', of: s => rate(s.http4xx, s)},
    {label: '5xx', color: '#e03131', of: s => rate(s.http5xx, s)}]},
  // 0 is "none ran": a gap, not a point at zero.
  {id: 'h-latency', unit: 'ms', title: 'latency quantiles per interval', series: [
    {label: 'HTTP p50', color: '#7048e8', of: s => s.httpP50Ms || null},
    {label: 'HTTP p99', color: '#d9480f', of: s => s.httpP99Ms || null},
    {label: 'turn p99', color: '#1098ad', dash: '6 4', of: s => s.turnP99Ms || null}]},
];
function rate(count, s) { return (count || 0) * 1000 / (s.lengthMs || STATS_MS); }
const fixed = (v, d) => (v || 0).toFixed(d);

// One chart as inline SVG: a time axis over the last 15 minutes ending at the node's last
// closed interval, a value axis of round steps from 0, and one line per series.
function drawHistory(chart, history, end) {
  const box = $(chart.id), w = box.clientWidth || 900, h = 200;
  const left = 58, right = 14, top = 20, bottom = 24, t0 = end - HISTORY_S;
  const shown = history.filter(s => s.t >= t0);
  const values = shown.flatMap(s => chart.series.map(x => x.of(s))).filter(v => v !== null);
  const yt = valueTicks(Math.max(0, ...values)), ymax = yt[yt.length - 1].v;
  const x = t => left + (t - t0) / HISTORY_S * (w - left - right);
  const y = v => h - bottom - v / ymax * (h - top - bottom);
  const xt = timeTicks(t0, end, HISTORY_S);
  let svg = '';
  for (const {v, text} of yt)
    svg += `<line x1="${left}" x2="${w - right}" y1="${y(v)}" y2="${y(v)}" ` +
           `stroke="${v ? '#e6e8ee' : '#9aa0ab'}"/>` +
           `<text x="${left - 6}" y="${y(v)}" text-anchor="end" dominant-baseline="middle">` +
           `${text}</text>`;
  svg += `<text x="4" y="12">${esc(chart.unit)}</text>`;
  svg += `<line x1="${left}" x2="${left}" y1="${top}" y2="${h - bottom}" stroke="#9aa0ab"/>`;
  for (const t of xt)
    svg += `<line x1="${x(t)}" x2="${x(t)}" y1="${h - bottom}" y2="${h - bottom + 4}" ` +
           `stroke="#9aa0ab"/><text x="${Math.min(x(t), w - 26)}" y="${h - 6}" ` +
           `text-anchor="middle">${clock(t)}</text>`;
  for (const s of chart.series) {
    // A gap where an interval had nothing to measure, or where intervals are missing; a
    // point with neither neighbour joined is drawn as a dot.
    const v = shown.map(p => s.of(p));
    const joins = shown.map((p, i) => i > 0 && v[i] !== null && v[i - 1] !== null &&
                                      p.t - shown[i - 1].t <= 2.5 * (p.lengthMs || STATS_MS) / 1000);
    let path = '';
    shown.forEach((p, i) => {
      if (v[i] === null) return;
      path += `${joins[i] ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(v[i]).toFixed(1)}`;
      if (!joins[i] && !joins[i + 1])
        svg += `<circle cx="${x(p.t).toFixed(1)}" cy="${y(v[i]).toFixed(1)}" r="2" fill="${s.color}"/>`;
    });
    svg += `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="1.5" ` +
           `stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`;
  }
  const label = `${chart.title} over the last 15 min; value axis 0 to ${yt[yt.length - 1].text} ` +
                `${chart.unit}; time axis ` +
                (xt.length ? `${clock(xt[0])} to ${clock(xt[xt.length - 1])}` : 'without ticks');
  // Axis ticks and point count also as attributes: what a screen reader or a test reads.
  box.innerHTML = `<svg xmlns="${SVG_NS}" id="${chart.id}-svg" width="${w}" height="${h}" ` +
    `viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}" font-size="11" fill="#667" ` +
    `data-points="${shown.length}" data-x-ticks="${xt.map(clock).join(' ')}" ` +
    `data-y-ticks="${yt.map(t => t.text).join(' ')}" data-y-unit="${esc(chart.unit)}">` +
    svg + '</svg>';
  const latest = shown.length ? shown[shown.length - 1] : null;
  const digits = ymax < 1 ? 3 : ymax < 10 ? 2 : ymax < 100 ? 1 : 0;
  $(chart.id + '-legend').innerHTML = chart.series.map(s => {
    const v = latest ? s.of(latest) : null;
    const key = s.dash ? `border-top:3px dashed ${s.color};height:0` : `background:${s.color}`;
    return `<span><i style="${key}"></i>${s.label} <b>${v === null ? '–' : v.toFixed(digits)}</b></span>`;
  }).join('') + `<span>(${chart.unit})</span>`;
}

function typeRows(types) {
  return (types || []).filter(t => (t.turns || 0) > 0 || (t.activations || 0) > 0)
    .sort((a, b) => (b.turns || 0) - (a.turns || 0) || (a.type < b.type ? -1 : 1))
    .map(t => `<tr><td>${esc(t.type)}</td><td>${fixed(t.turnsPerSecond, 1)}</td>` +
              `<td>${t.turns || 0}</td><td>${t.failures || 0}</td><td>${fixed(t.p50Ms, 3)}</td>` +
              `<td>${fixed(t.p99Ms, 3)}</td><td>${t.activations || 0}</td></tr>`).join('');
}

function hotRows(hot) {
  return (hot || []).map(a =>
    `<tr><td>${esc(a.actor)}</td><td>${fixed(a.turnsPerSecond, 1)}</td><td>${a.turns || 0}</td>` +
    `<td>${a.overcount ? `up to ${a.overcount} too high` : 'exact'}</td></tr>`).join('');
}

let statsTimer = null;
async function stats() {
  const v = await readJson('/v1/stats', 'statssub', 'its statistics', () => statsTimer);
  if (!v || !v.types) return;
  const end = Number(v.intervalEndMs || 0) / 1000;
  const history = (v.history || []).map(s => Object.assign({t: Number(s.endMs) / 1000}, s));
  $('statssub').textContent = end
    ? `over the ${(v.intervalLengthMs || 0) / 1000} s interval that ended ${clock(end)}`
    : `no ${(v.intervalMs || STATS_MS) / 1000} s interval has closed yet`;
  $('types').dataset.intervalEnd = v.intervalEndMs || 0;
  document.querySelector('#types tbody').innerHTML =
    typeRows(v.types) || '<tr><td colspan="7">no turns and no activations</td></tr>';
  document.querySelector('#hot tbody').innerHTML =
    hotRows(v.hotActors) || '<tr><td colspan="4">no turns</td></tr>';
  const last = history.length ? history[history.length - 1].t : Date.now() / 1000;
  for (const chart of historyCharts) drawHistory(chart, history, last);
  $('types').dataset.polls = (Number($('types').dataset.polls) || 0) + 1;
}
statsTimer = every(STATS_MS, stats);
