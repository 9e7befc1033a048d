#include "keel/runtime/http/dashboard.hpp"

#include "keel/runtime/http/gateway.hpp"

namespace keel::http {

std::string_view dashboard_html() {
  static constexpr std::string_view page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Keel node</title>
<style>
 body{font:14px system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
 h1{font-size:20px;margin:0 0 4px} .sub{color:#667;margin-bottom:18px}
 .cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
 .card{background:#fff;border-radius:8px;padding:12px 16px;min-width:150px;box-shadow:0 1px 2px #0002}
 .card b{display:block;font-size:22px} .card span{color:#667;font-size:12px}
 table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0002;border-radius:8px}
 th,td{padding:6px 12px;text-align:right} th:first-child,td:first-child{text-align:left}
 th{background:#eef0f4;font-weight:600} tr:nth-child(even) td{background:#fafbfc}
 canvas{background:#fff;border-radius:8px;box-shadow:0 1px 2px #0002;margin:12px 0}
</style></head><body>
<h1>Keel node</h1><div class="sub" id="sub">reading /metrics…</div>
<div class="cards" id="cards"></div>
<h2 style="font-size:16px;margin:6px 0">Cluster <span class="sub" id="clustersub"></span></h2>
<table id="members"><thead><tr><th>node</th><th>status</th><th>HTTP</th><th>cluster</th>
<th>partitions</th><th>activations</th></tr></thead><tbody></tbody></table>
<div class="sub" id="rebalance"></div>
<canvas id="chart" width="900" height="220"></canvas>
<table id="routes"><thead><tr><th>route</th><th>req/s</th>
<th title="the histogram bucket bound the median falls in, over the node's life">p50 ms (bound, since start)</th>
<th title="the histogram bucket bound the 99th percentile falls in, over the node's life">p99 ms (bound, since start)</th>
<th>2xx</th><th>4xx</th><th>5xx</th><th>other</th></tr></thead><tbody></tbody></table>
<script>
const history = [];  // {t, turns, p99}
let last = null;
function parse(text) {
  const series = {};
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = line.match(/^([a-z_]+)(\{(.*)\})? ([0-9.eE+-]+|NaN|[+-]Inf)$/);  // labels hold braces
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const kv of m[3].match(/[a-z_]+="[^"]*"/g) || []) {
      const i = kv.indexOf('='); labels[kv.slice(0, i)] = kv.slice(i + 2, -1);
    }
    (series[m[1]] = series[m[1]] || []).push({labels, value: parseFloat(m[4])});
  }
  return series;
}
const one = (s, name) => ((s[name] || [])[0] || {value: 0}).value;
function quantile(buckets, q) {  // buckets: [{le, count}] cumulative
  const total = buckets.length ? buckets[buckets.length - 1].count : 0;
  if (!total) return 0;
  for (const b of buckets) if (b.count >= q * total) return b.le === Infinity ? NaN : b.le * 1000;
  return NaN;
}
function bucketsOf(s, name, match) {
  return (s[name + '_bucket'] || []).filter(x => match(x.labels))
    .map(x => ({le: x.labels.le === '+Inf' ? Infinity : parseFloat(x.labels.le), count: x.value}))
    .sort((a, b) => a.le - b.le);
}
const esc = v => String(v).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
async function cluster() {  // GET /v1/cluster: members, coordinator, fence
  let res, v;
  try { res = await fetch('/v1/cluster'); v = await res.json(); } catch (e) { return; }
  if (!res.ok || !v.members) {  // said, not left blank: e.g. 401 when the node wants a key
    const err = v.error || {};
    document.getElementById('clustersub').textContent =
      `the node refused the cluster view: ${res.status} ${err.code || ''} ${err.message || ''}` +
      (res.status === 401 ? ' (it requires an API key, which this page does not send)' : '');
    return;
  }
  document.getElementById('clustersub').textContent =
    `${v.clusterName}: ${v.members.length} member(s), coordinator ${v.coordinator || 'none'}` +
    (v.fenced ? ` — THIS NODE IS FENCED: ${v.fenceReason}` : '');
  document.querySelector('#members tbody').innerHTML = v.members.map(m =>
    `<tr><td>${esc(m.nodeId)}${m.nodeId === v.nodeId ? ' (this node)' : ''}` +
    `${m.nodeId === v.coordinator ? ' ★' : ''}</td><td>${esc(m.status)}</td>` +
    `<td>${esc(m.httpAddress)}</td><td>${esc(m.clusterAddress || '–')}</td>` +
    `<td>${m.partitions}</td><td>${m.nodeId === v.nodeId ? m.activations : '?'}</td></tr>`).join('');
  const r = v.rebalance || {};  // partitions moving between nodes (join, drain, leave)
  document.getElementById('rebalance').innerHTML = r.running
    ? `rebalance: <progress max="${r.planned}" value="${r.done}"></progress> ${r.done} of ` +
      `${r.planned} moved, ${r.moving} moving, ${r.failed} aborted — ${esc(r.reason)}`
    : (r.planned ? `last rebalance: ${r.done} of ${r.planned} partitions moved` +
       `${r.failed ? `, ${r.failed} aborted` : ''}` : 'no rebalance yet');
}
function card(label, value) { return `<div class="card"><b>${value}</b><span>${label}</span></div>`; }
async function tick() {
  let text;
  try { text = await (await fetch('/metrics')).text(); }
  catch (e) { document.getElementById('sub').textContent = 'node unreachable'; return; }
  const s = parse(text), now = Date.now() / 1000;
  const turns = one(s, 'keel_turns_total'), writes = one(s, 'keel_commit_writes_total');
  const batches = one(s, 'keel_commit_batches_total');
  const rate = (v, k) => last ? ((v - last[k]) / (now - last.t)).toFixed(0) : '–';
  document.getElementById('cards').innerHTML =
    card('live activations', one(s, 'keel_activations')) +
    card('turns / s', rate(turns, 'turns')) +
    card('durable commits / s', rate(writes, 'writes')) +
    card('turns per sync', batches ? (writes / batches).toFixed(1) : '–') +
    card('calls pending', one(s, 'keel_calls_pending')) +
    card('timed out (total)', one(s, 'keel_calls_timed_out_total')) +
    card('HTTP in flight', one(s, 'keel_http_inflight')) +
    card('overloaded / rate limited', one(s, 'keel_http_overloaded_total') + ' / ' +
         one(s, 'keel_http_rate_limited_total'));
  const routes = {};
  for (const x of s['keel_http_requests_total'] || []) {
    const key = x.labels.method + ' ' + x.labels.route;
    const r = routes[key] = routes[key] || {total: 0, c2: 0, c4: 0, c5: 0, other: 0, labels: x.labels};
    r.total += x.value;
    const st = x.labels.status[0];
    if (st === '2') r.c2 += x.value;
    else if (st === '4') r.c4 += x.value;
    else if (st === '5') r.c5 += x.value;
    else r.other += x.value;  // 1xx, 3xx: neither a refusal nor a fault
  }
  const rows = Object.entries(routes).sort((a, b) => b[1].total - a[1].total).map(([key, r]) => {
    const b = bucketsOf(s, 'keel_http_request_duration_seconds',
                        l => l.method === r.labels.method && l.route === r.labels.route);
    const prev = last && last.routes[key] ? last.routes[key] : null;
    const rps = prev ? ((r.total - prev) / (now - last.t)).toFixed(1) : '–';
    return `<tr><td>${key}</td><td>${rps}</td><td>${quantile(b, .5) || '–'}</td>` +
           `<td>${quantile(b, .99) || '–'}</td><td>${r.c2}</td><td>${r.c4}</td><td>${r.c5}</td><td>${r.other}</td></tr>`;
  });
  document.querySelector('#routes tbody').innerHTML = rows.join('');
  const turnBuckets = bucketsOf(s, 'keel_turn_duration_seconds', () => true);
  history.push({t: now, turns: last ? (turns - last.turns) / (now - last.t) : 0,
                p99: quantile(turnBuckets, .99) || 0});
  if (history.length > 120) history.shift();
  draw();
  last = {t: now, turns, writes, routes: Object.fromEntries(Object.entries(routes).map(
    ([k, r]) => [k, r.total]))};
  document.getElementById('sub').textContent = 'updated ' + new Date().toLocaleTimeString();
}
function draw() {
  const c = document.getElementById('chart'), g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const plot = (key, color, label, row) => {
    const max = Math.max(1, ...history.map(h => h[key]));
    g.strokeStyle = color; g.beginPath();
    history.forEach((h, i) => {
      const x = 40 + i * (c.width - 60) / 119, y = c.height - 20 - h[key] / max * (c.height - 50);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke(); g.fillStyle = color;
    g.fillText(`${label} (max ${max.toFixed(key === 'p99' ? 2 : 0)})`, 40, 14 + row * 14);
  };
  g.font = '12px system-ui';
  plot('turns', '#2f6fde', 'turns / s', 0);
  plot('p99', '#d9480f', 'turn p99 ms', 1);
}
tick(); setInterval(tick, 2000);
cluster(); setInterval(cluster, 1000);
</script></body></html>
)html";
  return page;
}

void add_dashboard_route(gateway& gw) {
  gw.add_route(
      "GET", "/",
      [](const exchange_ptr& ex) {
        response resp;
        resp.content_type = "text/html; charset=utf-8";
        resp.body = std::string{dashboard_html()};
        ex->respond(std::move(resp));
      },
      route_access::open);
}

}  // namespace keel::http
