/* Headrace UI: the Overview page (needs headrace.js, loaded before it). */
"use strict";

async function overview() {
  const [health, metrics, agents, stats] = await Promise.all([
    api("/health"),
    api("/metrics").catch((e) => ({ error: e.message })),
    api("/agents").catch((e) => ({ error: e.message })),
    can("canAdmin") ? api("/admin/stats").catch((e) => ({ error: e.message })) : Promise.resolve(null),
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

  const list = agents && !agents.error ? agents.agents : [];
  rows(document.querySelector("#agents tbody"), list, (a) =>
    el("tr", {}, el("td", {}, a.agent_id), el("td", {}, a.type), el("td", {}, badge(a.status)), el("td", {}, when(a.last_heartbeat))),
    agents.error || "no agents");
}

poll(overview);
