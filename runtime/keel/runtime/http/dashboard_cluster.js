// The dashboard's cluster panel: the members, replication and rebalance from GET
// /v1/cluster, and the cluster's events from GET /v1/cluster/events as a timeline of the
// last 15 minutes (one lane per kind of change) and a table of the latest. Inlined into
// dashboard.html at build time (cmake/embed_text.cmake), so the page stays one file with no
// external assets. Uses the page's helpers ($, esc, clock, readJson, every, timeTicks) and
// HISTORY_S and SVG_NS from dashboard_stats.js.
'use strict';
const EVENTS_MS = 5000;
const CLUSTER_MS = 1000;
const EVENT_ROWS = 20;  // the table shows the latest; the timeline all of the last 15 min
const lanes = [
  {label: 'members', color: '#2f6fde',
   kinds: ['member_joined', 'member_left', 'member_declared_down', 'coordinator_elected']},
  {label: 'drains', color: '#f08c00', kinds: ['drain_started', 'drain_ended']},
  {label: 'rebalances', color: '#7048e8', kinds: ['rebalance_started', 'rebalance_finished']},
  {label: 'handoffs', color: '#2b8a3e', kinds: ['partitions_handed_off', 'handoffs_aborted']},
  {label: 'failovers', color: '#e03131', kinds: ['partitions_failed_over', 'replicas_out_of_sync']},
];
const laneOf = kind => lanes.findIndex(l => l.kinds.includes(kind));

// One event in words, as the table and the markers' tooltips say it.
function eventText(e) {
  const n = e.partitions || 0, node = e.node || '?', parts = `${n} partition${n === 1 ? '' : 's'}`;
  switch (e.kind) {
    case 'member_joined': return `${node} joined (${e.detail})`;
    case 'member_left': return `${node} left (${e.detail})`;
    case 'member_declared_down': return `${node} declared down: ${e.detail}`;
    case 'coordinator_elected': return `${node} is the coordinator`;
    case 'drain_started': return `drain of ${node} started: ${e.detail}`;
    case 'drain_ended': return `drain of ${node} ended`;
    case 'rebalance_started': return `rebalance by ${node}: ${n} moves planned (${e.detail})`;
    case 'rebalance_finished': return `rebalance by ${node} finished: ${e.detail}`;
    case 'partitions_handed_off': return `${parts} handed off ${node} → ${e.to}`;
    case 'handoffs_aborted': return `${parts} moving ${node} → ${e.to} aborted, back on ${node}`;
    case 'partitions_failed_over': return `${parts} failed over from ${node} to ${e.to}`;
    case 'replicas_out_of_sync': return `${node} fell out of sync on ${parts}`;
    default: return `${e.kind} ${node} ${e.detail || ''}`;
  }
}

// The timeline as inline SVG: a wall-clock axis over the 15 minutes ending `end`, a lane per
// kind of change and a marker per event, its text in the marker's tooltip.
function drawTimeline(events, end) {
  const box = $('timeline'), w = box.clientWidth || 900, laneH = 22;
  const left = 90, right = 14, top = 8, h = top + lanes.length * laneH + 24, t0 = end - HISTORY_S;
  const x = t => left + (t - t0) / HISTORY_S * (w - left - right);
  const shown = events.filter(e => e.t >= t0 && laneOf(e.kind) >= 0);
  const xt = timeTicks(t0, end, HISTORY_S);
  let svg = '';
  lanes.forEach((l, i) => {
    const y = top + i * laneH + laneH / 2;
    svg += `<line x1="${left}" x2="${w - right}" y1="${y}" y2="${y}" stroke="#e6e8ee"/>` +
           `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">` +
           `${l.label}</text>`;
  });
  const axis = top + lanes.length * laneH;
  svg += `<line x1="${left}" x2="${w - right}" y1="${axis}" y2="${axis}" stroke="#9aa0ab"/>`;
  for (const t of xt)
    svg += `<line x1="${x(t)}" x2="${x(t)}" y1="${axis}" y2="${axis + 4}" stroke="#9aa0ab"/>` +
           `<text x="${Math.min(x(t), w - 26)}" y="${h - 4}" text-anchor="middle">${clock(t)}</text>`;
  for (const e of shown) {
    const lane = laneOf(e.kind), y = top + lane * laneH + laneH / 2;
    svg += `<circle cx="${x(e.t).toFixed(1)}" cy="${y}" r="5" fill="${lanes[lane].color}" ` +
           `fill-opacity=".75" data-kind="${esc(e.kind)}"><title>${clock(e.t)} ` +
           `${esc(eventText(e))}</title></circle>`;
  }
  box.style.height = h + 'px';
  box.innerHTML = `<svg xmlns="${SVG_NS}" id="timeline-svg" width="${w}" height="${h}" ` +
    `viewBox="0 0 ${w} ${h}" role="img" font-size="11" fill="#667" ` +
    `aria-label="${shown.length} cluster events over the last 15 min; time axis ` +
    (xt.length ? `${clock(xt[0])} to ${clock(xt[xt.length - 1])}` : 'without ticks') + '" ' +
    `data-events="${shown.length}" data-kinds="${shown.map(e => esc(e.kind)).join(' ')}" ` +
    `data-x-ticks="${xt.map(clock).join(' ')}">${svg}</svg>`;
  $('timeline-legend').innerHTML = lanes.map(l =>
    `<span><i style="background:${l.color}"></i>${l.label}</span>`).join('');
}

let clusterTimer = null;
async function cluster() {  // GET /v1/cluster: members, coordinator, fence
  const v = await readJson('/v1/cluster', 'clustersub', 'the cluster view', () => clusterTimer);
  if (!v || !v.members) return;
  const held = v.members.reduce((n, m) => n + (m.partitions || 0), 0);
  const nodes = v.members.length;
  $('clustersub').textContent =
    `${v.clusterName}: ${nodes} node${nodes === 1 ? '' : 's'} holding ${held} partitions, ` +
    `coordinator ${v.coordinator || 'none'}` +
    (v.fenced ? ` — THIS NODE IS FENCED: ${v.fenceReason}` : '');
  document.querySelector('#members tbody').innerHTML = v.members.map(m =>
    `<tr><td>${esc(m.nodeId)}${m.nodeId === v.nodeId ? ' (this node)' : ''}` +
    `${m.nodeId === v.coordinator ? ' ★' : ''}</td><td>${esc(m.status)}</td>` +
    `<td>${esc(m.httpAddress)}</td><td>${esc(m.clusterAddress || '–')}</td>` +
    `<td>${esc(m.link || '–')}</td>` +
    `<td>${esc(m.partitions || 0)}</td><td>${esc(m.replicas || 0)}</td>` +
    `<td>${esc(m.inSync || 0)}</td><td>${esc(m.underReplicated || 0)}</td>` +
    `<td>${m.nodeId === v.nodeId ? esc(m.activations || 0) : '?'}</td></tr>`).join('');
  const c = v.replication;  // absent on a single node
  $('replication').textContent = !c ? '' : (c.factor || 0) > 1
    ? `${c.factor} copies of each partition, ${c.minInsync || 0} in sync to write: ` +
      `${c.underReplicated || 0} under-replicated, ${c.unavailable || 0} awaiting a copy`
    : `one copy of each partition: ${c.unavailable || 0} awaiting their owner`;
  const r = v.rebalance || {};  // partitions moving between nodes (join, drain, leave)
  $('rebalance').innerHTML = r.running
    ? `rebalance: <progress max="${esc(r.planned)}" value="${esc(r.done)}"></progress> ` +
      `${esc(r.done)} of ${esc(r.planned)} moved, ${esc(r.moving)} moving, ` +
      `${esc(r.failed)} aborted — ${esc(r.reason)}`
    : (r.planned ? `last rebalance: ${r.done} of ${r.planned} partitions moved` +
       `${r.failed ? `, ${r.failed} aborted` : ''}` : 'no rebalance yet');
}

let eventsTimer = null;
async function clusterEvents() {
  const v = await readJson('/v1/cluster/events', 'eventssub', 'its cluster events',
                           () => eventsTimer);
  if (!v) return;
  const events = (v.events || []).map(e => Object.assign({t: Number(e.timeMs) / 1000}, e));
  const first = events.length ? Number(events[0].seq) : 0;
  $('eventssub').textContent = !events.length
    ? 'none seen by this node' + (!v.capacity ? ' (it runs without a cluster)' : '')
    : `the ${events.length} this node saw last (it keeps ${v.capacity})` +
      (first > 1 ? `; ${first - 1} older ones dropped` : '');
  const end = Math.max(Date.now() / 1000, events.length ? events[events.length - 1].t : 0);
  drawTimeline(events, end);
  document.querySelector('#events tbody').innerHTML = events.slice(-EVENT_ROWS).reverse().map(e =>
    `<tr><td>${clock(e.t)}</td><td>${esc(e.kind)}</td><td>${esc(eventText(e))}</td></tr>`)
    .join('') || '<tr><td colspan="3">no events</td></tr>';
  $('events').dataset.polls = (Number($('events').dataset.polls) || 0) + 1;
}
clusterTimer = every(CLUSTER_MS, cluster);
eventsTimer = every(EVENTS_MS, clusterEvents);
