/* Headrace UI: the Overview page (needs headrace.js, loaded before it, and uPlot, loaded by the page).
 *
 * Requests: one per API namespace per poll (health, metrics, agents, jobs, monitoring); the rows
 * ingested per hour change slowly and cost a heavier call (ingestion namespace), so they are fetched
 * every ROWS_EVERY_MS only. The charts are drawn in the theme's colours and redrawn when the theme
 * or the width changes.
 */
"use strict";

const ROWS_EVERY_MS = 5 * 60 * 1000;
const charts = {};  // id -> {data, series, plot}
let rowsFetched = 0;

async function overview() {
  const rowsDue = Date.now() - rowsFetched >= ROWS_EVERY_MS;
  const soft = (promise) => promise.catch((e) => ({ error: e.message }));
  const [health, metrics, agents, stats, timeline, ingestions] = await Promise.all([
    api("/health"),
    soft(api("/metrics")),
    soft(api("/agents")),
    can("canAdmin") ? soft(api("/admin/stats")) : Promise.resolve(null),
    soft(api("/monitoring/timeline")),
    rowsDue ? soft(api("/ingestion/jobs?status=completed&limit=200")) : Promise.resolve(null),
  ]);
  const components = Object.entries(health.components || {});
  rows(document.querySelector("#health tbody"), components, ([name, c]) =>
    el("tr", { "data-component": name }, el("td", {}, name.replaceAll("_", " ")), el("td", {}, badge(c.status)),
      el("td", {}, c.latency_ms == null ? "–" : `${c.latency_ms} ms`)), "no components");

  const queue = document.querySelector("#queue .figures");
  if (stats && !stats.error) {
    const p = stats.pending_by_priority || {};
    figures(queue, [["foreground pending", p.foreground ?? 0], ["background pending", p.background ?? 0],
      ["best effort pending", p.best_effort ?? 0], ["running", stats.jobs_by_status?.running ?? 0],
      ["active executors", stats.active_executors]]);
  } else {
    queue.replaceChildren(el("p", { class: "muted" }, stats ? stats.error : "Queue depth by priority is shown to administrators (GET /admin/stats)."));
  }

  const ingestion = document.querySelector("#ingestion .figures");
  if (metrics && !metrics.error) {
    const d = metrics.data_metrics, w = metrics.workflow_metrics;
    figures(ingestion, [["rows ingested today", d.records_processed_today.toLocaleString()],
      ["MiB read today", d.data_volume_mb_today.toFixed(1)], ["runs active", w.active_workflows],
      ["runs succeeded today", w.completed_today], ["runs failed today", w.failed_today]]);
  } else {
    ingestion.replaceChildren(el("p", { class: "muted" }, metrics.error));
  }

  requestCharts(timeline);
  if (ingestions) {
    rowsFetched = Date.now();
    rowsChart(ingestions);
  }

  const list = agents && !agents.error ? agents.agents : [];
  rows(document.querySelector("#agents tbody"), list, (a) =>
    el("tr", {}, el("td", {}, a.agent_id), el("td", {}, a.type), el("td", {}, badge(a.status)), el("td", {}, when(a.last_heartbeat))),
    agents.error || "no agents");
}

/* GET /monitoring/timeline: requests per minute, and mean and p95 latency; null minutes are gaps. */
function requestCharts(timeline) {
  const panel = document.getElementById("requests");
  const summary = panel.querySelector(".summary");
  if (timeline.error) {
    summary.textContent = `Not available: ${timeline.error}`;
    return;
  }
  const minutes = timeline.minutes || [];
  const xs = minutes.map((m) => Date.parse(m.timestamp) / 1000);
  const counted = minutes.filter((m) => m.requests != null);
  const total = counted.reduce((sum, m) => sum + m.requests, 0);
  const slowest = counted.reduce((top, m) => Math.max(top, m.maxResponseTime ?? 0), 0);
  const timed = counted.filter((m) => m.avgResponseTime != null);
  const mean = timed.length ? timed.reduce((s, m) => s + m.avgResponseTime * m.requests, 0) / total : null;
  panel.dataset.total = String(total);
  panel.dataset.minutes = String(minutes.length);
  let text = `${total.toLocaleString()} requests in the last hour` +
    (mean == null ? "" : `, mean ${mean.toFixed(1)} ms, slowest ${slowest.toFixed(0)} ms`) + ".";
  if (timeline.completeSince && minutes.length && Date.parse(timeline.completeSince) > Date.parse(minutes[0].timestamp)) {
    text += ` Counted since ${when(timeline.completeSince)} (earlier minutes are not known).`;
  }
  summary.textContent = text;
  draw("rate-chart", [xs, minutes.map((m) => m.requests)], [{ label: "requests", color: "--accent", bars: true }], "");
  draw("latency-chart", [xs, minutes.map((m) => m.avgResponseTime), minutes.map((m) => m.p95ResponseTime)],
    [{ label: "mean", color: "--accent" }, { label: "p95", color: "--warn" }], " ms");
}

/* GET /ingestion/jobs (completed): rows written, by the hour each job ended, over the last 24 hours. */
function rowsChart(answer) {
  const panel = document.getElementById("rows");
  const summary = panel.querySelector(".summary");
  if (answer.error) {
    summary.textContent = `Not available: ${answer.error}`;
    return;
  }
  const hour = 3600;
  const last = Math.floor(Date.now() / 1000 / hour) * hour;
  const xs = Array.from({ length: 24 }, (_, i) => last - (23 - i) * hour);
  const ys = xs.map(() => 0);
  let jobs = 0;
  for (const job of answer) {
    const ended = job.end_timestamp ? Number(job.end_timestamp.slice(0, -6)) / 1000 : null;  // ns -> s
    const index = ended == null ? -1 : Math.floor((ended - xs[0]) / hour);
    if (index < 0 || index > 23) continue;
    ys[index] += job.rows_written || 0;
    jobs += 1;
  }
  const total = ys.reduce((a, b) => a + b, 0);
  panel.dataset.total = String(total);
  summary.textContent = `${total.toLocaleString()} rows from ${jobs} completed ingestion jobs in the last 24 hours` +
    (answer.length >= 200 ? " (the newest 200 jobs)." : ".");
  draw("rows-chart", [xs, ys], [{ label: "rows", color: "--ok", bars: true }], "");
}

function color(variable) {
  return getComputedStyle(document.documentElement).getPropertyValue(variable).trim() || "#888888";
}

/* A uPlot chart in `id`'s figure, as wide as the figure; kept to redraw on theme or width changes. */
function draw(id, data, series, unit) {
  const step = data[0].length > 1 ? data[0][1] - data[0][0] : 60;
  charts[id] = { data, series, unit, step, plot: charts[id]?.plot };
  render(id);
}

function render(id) {
  const chart = charts[id];
  const box = document.getElementById(id);
  if (typeof uPlot === "undefined") {
    box.dataset.chart = "unavailable";
    return;
  }
  const muted = color("--muted"), line = color("--line");
  const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
  const options = {
    width: Math.max(200, box.clientWidth),
    height: 170,
    // half a step of room at each end, so that the first and last bars are whole
    scales: { x: { time: true, range: (u, min, max) => [min - chart.step / 2, max + chart.step / 2] }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    cursor: { drag: { x: false, y: false } },
    series: [{}, ...chart.series.map((s) => ({
      label: s.label,
      stroke: color(s.color),
      fill: s.bars ? color(s.color) + "55" : undefined,
      width: s.bars ? 1 : 2,
      paths: s.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined,
      points: s.bars ? { show: false } : { show: true, size: 5 },  // a lone minute between gaps shows
      value: (u, v) => (v == null ? "–" : `${Math.round(v * 100) / 100}${chart.unit}`),
    }))],
    axes: [axis, { ...axis, size: 50 }],  // the unit is in the caption (and the legend's values)
  };
  chart.plot?.destroy();
  chart.plot = new uPlot(options, chart.data, box);
  box.dataset.chart = "drawn";
}

function redrawAll() {
  for (const id of Object.keys(charts)) render(id);
}

new MutationObserver(redrawAll).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
let resizeTimer = 0;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(redrawAll, 150); });

poll(overview);
