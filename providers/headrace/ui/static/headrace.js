/* Headrace pages in the Airflow UI: fill the server-rendered shells from the REST API.
 *
 * Plain JavaScript, no build step. Everything shown comes from the same API every client uses,
 * authenticated by the Airflow UI's own cookie. Data is inserted with textContent only, never as
 * HTML. Polling: one request per API namespace every data-poll seconds (30), only while the page
 * is visible, and a 429 pauses it for the Retry-After the API sends.
 */
"use strict";

const body = document.body;
const API = body.dataset.api;
const UI = body.dataset.ui;
const POLL_MS = Number(body.dataset.poll || 30) * 1000;
const can = (what) => body.dataset[what] === "true";
let pausedUntil = 0;

/* Follow the Airflow UI's theme (its <html> has class "dark" or "light"); else the system's. */
function followTheme() {
  let root = null;
  try { root = window.parent !== window ? window.parent.document.documentElement : null; } catch (e) { root = null; }
  const apply = () => {
    let dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
    if (root && root.classList.contains("dark")) dark = true;
    if (root && root.classList.contains("light")) dark = false;
    document.documentElement.dataset.theme = dark ? "dark" : "light";
  };
  apply();
  if (root) new MutationObserver(apply).observe(root, { attributes: true, attributeFilter: ["class"] });
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function notice(message) {
  const box = document.getElementById("notice");
  box.textContent = message || "";
  box.hidden = !message;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function errorMessage(status, payload) {
  const err = payload && (payload.error || payload.detail || payload);
  const text = (err && (err.message || err.detail)) || (typeof err === "string" ? err : "");
  return `HTTP ${status}${text ? ": " + text : ""}`;
}

/* GET (or another method) on the API; the lakehouse envelope {success, data} is unwrapped. */
async function api(path, options) {
  const response = await fetch(API + path, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    ...(options || {}),
  });
  const payload = await response.json().catch(() => null);
  if (response.status === 429) {
    pausedUntil = Date.now() + 1000 * Number(response.headers.get("Retry-After") || 60);
  }
  if (!response.ok && !(path === "/health" && response.status === 503)) {
    throw new ApiError(response.status, errorMessage(response.status, payload));
  }
  if (payload && typeof payload === "object" && "success" in payload && "data" in payload) return payload.data;
  return payload;
}

function poll(refresh) {
  const run = async () => {
    if (document.hidden || Date.now() < pausedUntil) return;
    try {
      await refresh();
      notice("");
      const stamp = document.getElementById("updated");
      if (stamp) stamp.textContent = "updated " + new Date().toLocaleTimeString();
    } catch (error) {
      notice(error.message);
    }
  };
  run();
  setInterval(run, POLL_MS);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) run(); });
}

function rows(tbody, items, render, empty) {
  tbody.replaceChildren(...(items.length ? items.map(render) : [el("tr", {}, el("td", { colspan: "9", class: "muted" }, empty))]));
}

function badge(status) {
  return el("span", { class: "badge " + String(status).toLowerCase() }, status);
}

function figures(box, pairs) {
  box.replaceChildren(...pairs.map(([label, value]) =>
    el("div", { class: "figure" }, el("span", { class: "value" }, value ?? "–"), el("span", { class: "label" }, label))));
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

function bytes(n) {
  if (n == null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

const enc = encodeURIComponent;

/* ---------------------------------------------------------------- Overview */

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

/* ---------------------------------------------------------------- Lakehouse */

async function lakehouse() {
  if (can("canUpload")) setUpUpload();  // before the tree loads: the form must never submit natively
  const box = document.querySelector("#catalogs .tree");
  try {
    const catalogs = await api("/catalog");
    box.replaceChildren(...(catalogs.length ? catalogs.map(catalogNode) : [el("p", { class: "muted" }, "No catalogs yet (POST /catalog).")]));
  } catch (error) {
    box.replaceChildren(el("p", { class: "muted" }, error.message));
  }
}

/* A catalog, whose schemas and tables are fetched when it is opened (one request, not one per catalog). */
function catalogNode(c) {
  const node = el("details", { "data-catalog": c.name },
    el("summary", {}, el("strong", {}, c.name), " ", el("span", { class: "muted" }, c.type), " ", c.description || ""));
  let loaded = false;
  node.addEventListener("toggle", async () => {
    if (!node.open || loaded) return;
    loaded = true;
    try {
      const tree = await api(`/catalog/${enc(c.name)}/tree`);
      node.append(...(tree.length ? tree.map((s) => el("div", { class: "schema" }, el("span", { class: "muted" }, "schema "), s.name,
        el("ul", {}, ...s.tables.map((t) => el("li", {}, el("a", { href: `${UI}/lakehouse/${enc(c.name)}/${enc(s.name)}/${enc(t.name)}` }, t.name))))))
        : [el("p", { class: "muted" }, "no tables yet")]));
    } catch (error) {
      loaded = false;
      notice(error.message);
    }
  });
  return node;
}

function setUpUpload() {
  const form = document.getElementById("upload-form");
  const input = form.querySelector("input[type=file]");
  const drop = document.getElementById("drop");
  const chosen = document.getElementById("chosen");
  let files = [];
  const choose = (list) => { files = Array.from(list); chosen.textContent = files.map((f) => f.name).join(", "); };
  input.addEventListener("change", () => choose(input.files));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); choose(e.dataTransfer.files); });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!files.length) { notice("Choose one or more files first."); return; }
    const data = new FormData();
    data.append("bucket", form.bucket.value);
    data.append("path", form.path.value);
    for (const file of files.slice(0, 10)) data.append("files", file, file.name);
    const progress = document.getElementById("upload-progress");
    progress.hidden = false;
    progress.value = 0;
    const xhr = new XMLHttpRequest();  // fetch() reports no upload progress
    xhr.open("POST", `${API}/upload/multiple`);
    xhr.withCredentials = true;
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (p) => { if (p.lengthComputable) progress.value = (100 * p.loaded) / p.total; });
    xhr.addEventListener("load", () => {
      let payload = null;
      try { payload = JSON.parse(xhr.responseText); } catch (err) { payload = null; }
      if (xhr.status !== 201) { notice(errorMessage(xhr.status, payload)); return; }
      progress.value = 100;
      notice("");
      const result = payload.data || payload;
      const tbody = document.querySelector("#uploaded tbody");
      for (const f of result.uploaded || []) {
        tbody.append(el("tr", { class: "uploaded" }, el("td", {}, f.fileName), el("td", {}, bytes(f.size)), el("td", {}, el("code", {}, f.s3Path)),
          el("td", {}, f.replaced ? "replaced" : "stored")));
      }
      for (const f of result.failed || []) {
        tbody.append(el("tr", { class: "failed" }, el("td", {}, f.fileName), el("td", {}, "–"), el("td", {}, "–"), el("td", {}, f.error)));
      }
    });
    xhr.addEventListener("error", () => notice("The upload did not reach the server."));
    xhr.send(data);
  });
  form.dataset.ready = "true";
}

async function table() {
  const { catalog, schema, table: name } = body.dataset;
  try {
    const meta = await api(`/catalog/${enc(catalog)}/schema/${enc(schema)}/table/${enc(name)}/metadata`);
    const p = meta.properties || {};
    const props = [["Format", p.format], ["Location", p.location], ["Rows", p.row_count?.toLocaleString()],
      ["Size", bytes(p.size_bytes)], ["Files", p.file_count],
      ["Partitioned by", (meta.partitioning || []).map((x) => `${x.transform}(${x.column})`).join(", ") || "–"]];
    document.querySelector("#table-properties .props").replaceChildren(...props.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "–")]));
    document.querySelector("#snapshots .props").replaceChildren(el("dt", {}, p.format === "delta" ? "Current version" : "Current snapshot"),
      el("dd", {}, p.version ?? "none yet"));
    rows(document.querySelector("#columns tbody"), meta.columns || [], (c) =>
      el("tr", {}, el("td", {}, c.name), el("td", {}, el("code", {}, c.type)), el("td", {}, c.nullable ? "yes" : "no")), "no columns");
  } catch (error) {
    notice(error.message);
  }
}

/* ---------------------------------------------------------------- Job queue */

function jobs() {
  const filters = document.getElementById("filters");
  let latest = 0;  // a poll and a filter change may overlap: only the newest answer is shown
  const refresh = async () => {
    const query = new URLSearchParams({ limit: "200" });
    for (const [key, value] of new FormData(filters)) if (value) query.set(key, value);
    const mine = ++latest;
    const [list, stats] = await Promise.all([api(`/jobs?${query}`), can("canAdmin") ? api("/admin/stats") : null]);
    if (mine !== latest) return;
    const counts = stats ? stats.jobs_by_status : null;
    const note = document.getElementById("counts-note");
    if (counts) {
      note.textContent = `${stats.active_executors} active executors`;
    } else {
      note.textContent = "Counts of the jobs listed below (exact totals are shown to administrators).";
    }
    const count = (s) => (counts ? counts[s] ?? 0 : list.filter((j) => j.status === s).length);
    figures(document.querySelector("#counts .figures"), ["pending", "running", "completed", "failed"].map((s) => [s, count(s)]));
    rows(document.querySelector("#jobs tbody"), list, (j) => el("tr", { "data-job": j.id },
      el("td", {}, el("code", {}, j.id)), el("td", {}, j.type), el("td", {}, badge(j.status)), el("td", {}, j.priority),
      el("td", {}, j.executor_id || "–"), el("td", {}, when(j.created_at)),
      el("td", {}, can("canCancel") && j.status === "pending" ? el("button", { class: "cancel", onclick: () => cancel(j.id, refresh) }, "Cancel") : "")),
      "no jobs match");
  };
  filters.addEventListener("change", () => refresh().catch((e) => notice(e.message)));
  filters.addEventListener("submit", (e) => e.preventDefault());
  filters.dataset.ready = "true";
  poll(refresh);
}

async function cancel(id, refresh) {
  try {
    await api(`/jobs/${enc(id)}`, { method: "DELETE" });
    await refresh();
  } catch (error) {
    notice(error.message);
  }
}

followTheme();
({ overview: () => poll(overview), lakehouse: () => (body.dataset.table ? table() : lakehouse()), jobs }[body.dataset.page] || (() => {}))();
