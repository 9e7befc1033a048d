// The dashboard's slow and failed requests, from GET /v1/requests/recent, each linking to its
// trace, and the trace view: `#trace=ID` draws GET /v1/traces/ID's turns across actors and
// nodes as a waterfall. Inlined into dashboard.html at build time (cmake/embed_text.cmake),
// so the page stays one file with no external assets. Uses the page's helpers ($, esc,
// clock, readJson, fetchWithin, every, valueTicks) and SVG_NS from dashboard_stats.js.
'use strict';
const REQUESTS_MS = 5000;

function requestRows(list) {
  return (list || []).map(r =>
    `<tr><td title="${esc(r.route)}">${esc(r.method)} ${esc(r.path)}</td><td>${r.status}</td>` +
    `<td>${(r.durationMs || 0).toFixed(1)}</td><td>${clock(Number(r.timeMs) / 1000)}</td>` +
    `<td><a href="#trace=${esc(r.traceId)}">${esc(r.traceId.slice(0, 8))}…</a></td></tr>`)
    .join('');
}

let requestsTimer = null;
async function recentRequests() {
  const v = await readJson('/v1/requests/recent', 'requestssub', 'its recent requests',
                           () => requestsTimer);
  if (!v) return;
  $('requestssub').textContent = `this node's last ${v.capacity} of each, newest first: ` +
    `slow is ${v.slowMs} ms or more (--slow-request), failed a 5xx answer; a trace id ` +
    `opens the request's turns below`;
  document.querySelector('#slow tbody').innerHTML =
    requestRows(v.slow) || '<tr><td colspan="5">none</td></tr>';
  document.querySelector('#failed tbody').innerHTML =
    requestRows(v.failed) || '<tr><td colspan="5">none</td></tr>';
}

// Each turn's depth in the call tree: a turn asked by another actor of the trace sits under
// the latest turn of that actor that began before it. Turns come ordered by start.
function depths(turns) {
  const latest = {};  // actor -> depth of its latest turn so far
  return turns.map(t => {
    const d = t.caller in latest ? latest[t.caller] + 1 : 0;
    latest[t.actor] = d;
    return d;
  });
}

// The waterfall as inline SVG: one row per turn, ordered by start, indented under the turn
// that asked it; its bar spans start to reply on a ms axis from the trace's first start.
function drawWaterfall(id, turns) {
  const box = $('waterfall'), w = box.clientWidth || 1000, rowH = 24;
  const left = 300, right = 250, top = 6, h = top + turns.length * rowH + 26;
  const t0 = Math.min(...turns.map(t => Number(t.startMs)));
  const endOf = t => Number(t.startMs) - t0 + Number(t.durationUs) / 1000;
  const yt = valueTicks(Math.max(...turns.map(endOf))), span = yt[yt.length - 1].v;
  const x = ms => left + ms / span * (w - left - right);
  const depth = depths(turns);
  const axis = top + turns.length * rowH;
  let svg = '';
  for (const {v, text} of yt)
    svg += `<line x1="${x(v)}" x2="${x(v)}" y1="${top}" y2="${axis + 4}" stroke="#e6e8ee"/>` +
           `<text x="${x(v)}" y="${h - 6}" text-anchor="middle">${text}</text>`;
  svg += `<text x="4" y="${h - 6}">ms since the first turn began</text>`;
  turns.forEach((t, i) => {
    const y = top + i * rowH, ok = t.outcome === 'ok', ms = Number(t.durationUs) / 1000;
    const from = x(Number(t.startMs) - t0), width = Math.max(2, x(endOf(t)) - from);
    svg += `<g data-actor="${esc(t.actor)}" data-node="${esc(t.node)}" ` +
      `data-outcome="${esc(t.outcome)}"><title>${esc(t.actor)} ${esc(t.message)} from ` +
      `${esc(t.caller)}</title><text x="${4 + 14 * depth[i]}" y="${y + rowH / 2}" ` +
      `dominant-baseline="middle" fill="#1d2330">${esc(t.actor)} ${esc(t.message)}</text>` +
      `<rect x="${from.toFixed(1)}" y="${y + 5}" width="${width.toFixed(1)}" ` +
      `height="${rowH - 10}" fill="${ok ? '#2b8a3e' : '#e03131'}"/>` +
      `<text x="${(from + width + 6).toFixed(1)}" y="${y + rowH / 2}" dominant-baseline="middle">` +
      `${ms.toFixed(1)} ms · ${esc(t.node)} · ${esc(t.outcome)} · v${t.versionBefore}→v` +
      `${t.versionAfter}</text></g>`;
  });
  box.innerHTML = `<svg xmlns="${SVG_NS}" id="waterfall-svg" width="${w}" height="${h}" ` +
    `viewBox="0 0 ${w} ${h}" role="img" font-size="11" fill="#667" ` +
    `aria-label="trace ${esc(id)}: ${turns.length} turns over ${span} ms" ` +
    `data-turns="${turns.length}" data-actors="${turns.map(t => esc(t.actor)).join(' ')}" ` +
    `data-nodes="${turns.map(t => esc(t.node)).join(' ')}">${svg}</svg>`;
}

// Shows the trace `#trace=ID` names, or hides the view when the address names none.
async function showTrace() {
  const m = location.hash.match(/^#trace=([0-9a-f]{32})$/);
  $('trace').hidden = !m;
  if (!m) return;
  $('tracesub').textContent = `reading ${m[1]}…`;
  $('waterfall').innerHTML = '';
  let res, v;
  try { res = await fetchWithin('/v1/traces/' + m[1]); v = await res.json(); }
  catch (e) { $('tracesub').textContent = `${m[1]}: the node did not answer`; return; }
  if (!res.ok) {
    $('tracesub').textContent = `${m[1]}: ${res.status} ${(v.error || {}).message || ''}`;
    return;
  }
  // Within one millisecond, an asking turn before the turn it asked (the node sends them in
  // that order too; a negative result puts a first).
  const turns = (v.turns || []).slice().sort((a, b) => Number(a.startMs) - Number(b.startMs) ||
                                             (a.caller === b.actor) - (b.caller === a.actor));
  const nodes = new Set(turns.map(t => t.node));
  $('tracesub').textContent = turns.length
    ? `${m[1]}: ${turns.length} turns on ${nodes.size} node${nodes.size === 1 ? '' : 's'}`
    : `${m[1]}: no turn of it is left in the nodes' turn logs`;
  if (turns.length) drawWaterfall(m[1], turns);
  $('trace').dataset.shown = m[1];
}
// The view is at the top of the page: a link clicked further down scrolls up to it.
addEventListener('hashchange', () => { showTrace(); $('trace').scrollIntoView(); });
showTrace();
requestsTimer = every(REQUESTS_MS, recentRequests);
