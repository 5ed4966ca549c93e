/* Headrace UI: the Monitoring page (needs headrace.js, loaded before it).
 *
 * Jobs and subjobs of the event log, from the job-monitoring API beside the REST API
 * (body.dataset.monitoring). One GET per list when the page opens or a filter changes, then every
 * change arrives on the SSE stream (/v1/stream, authenticated by the Airflow UI's cookie like every
 * call): no polling. The stream's events are folded into the rows by the log's own rules
 * (docs/events.md): a terminal status beats running, between two terminal ones the later `at` wins,
 * started_at is the earliest start, the measures keep their maximum, metadata is merged.
 * After a drop the browser reconnects with Last-Event-ID by itself; when it gives up (an error
 * answer), the page opens a new stream with ?last_event_id= of the last event it saw, so nothing
 * stored meanwhile is missed.
 */
"use strict";

const MONITORING = body.dataset.monitoring;
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const IMPLIED = { started: "running", progress: "running", finished: "succeeded", error: "failed", canceled: "canceled" };
const MEASURES = ["duration_s", "cpu_user_s", "cpu_system_s", "mem_max_mb"];
const KEEP = 2000; // rows kept per table (the newest); an hour of events must not grow without bound
const JOB_LIMIT = 200;
const SUBJOB_LIMIT = 500;

const monitor = {
  jobs: new Map(), // "site|id" -> item, as GET /v1/jobs answers them
  subjobs: new Map(),
  loaded: false, // the current filter's GET has answered; events before that wait in `buffer`
  buffer: [],
  latest: 0, // only the newest GET's answer is shown
  lastId: null, // the log id of the last event received: where a new stream resumes
  source: null,
  retryMs: 2000,
  opens: 0, // connections opened: more than one after a drop
  drawing: null,
  selected: null, // "site|job id" whose subjobs are shown, or null for all
  seenSites: new Set(),
  remoteSites: [],
};

/* A GET on the job-monitoring API (its errors: {"error": "<message>", "context", "code"}). */
async function monitoringApi(path) {
  const response = await fetch(MONITORING + path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const payload = await response.json().catch(() => null);
  if (response.status === 429) pausedUntil = Date.now() + 1000 * Number(response.headers.get("Retry-After") || 60);
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, payload));
  return payload;
}

function filterValues() {
  const form = document.getElementById("mon-filters");
  return { site: form.elements.site.value, status: form.elements.status.value };
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const remoteSite = (site) => (site.startsWith("remote:") ? site.slice("remote:".length) : null);
const keyOf = (site, id) => `${site}|${id}`;

async function loadLists() {
  const mine = ++monitor.latest;
  monitor.loaded = false;
  const { site, status } = filterValues();
  const query = new URLSearchParams();
  if (remoteSite(site)) query.set("site", remoteSite(site));
  else if (site.startsWith("id:")) query.set("site_id", site.slice(3));
  if (status) query.set("status", status);
  const limited = (limit) => new URLSearchParams([...query, ["limit", String(limit)]]);
  const [jobs, subjobs] = await Promise.all([
    monitoringApi(`/v1/jobs?${limited(JOB_LIMIT)}`),
    monitoringApi(`/v1/subjobs?${limited(SUBJOB_LIMIT)}`),
  ]);
  if (mine !== monitor.latest) return;
  monitor.jobs = new Map(jobs.items.map((j) => [keyOf(j.site_id, j.job_id), j]));
  monitor.subjobs = new Map(subjobs.items.map((s) => [keyOf(s.site_id, s.subjob_id), s]));
  for (const item of [...jobs.items, ...subjobs.items]) if (!remoteSite(site)) monitor.seenSites.add(item.site_id);
  const warnings = [...(jobs.warnings || []), ...(subjobs.warnings || [])];
  const note = remoteSite(site)
    ? "Read from the remote site when the filter changes; only this deployment's own log is live."
    : `${plural(jobs.count, "job")} and ${plural(subjobs.count, "subjob")} (at most the newest ${JOB_LIMIT} jobs and ${SUBJOB_LIMIT} subjobs); changes arrive live.`;
  document.getElementById("mon-note").textContent = [note, ...warnings].join(" ");
  monitor.loaded = true;
  const waiting = monitor.buffer;
  monitor.buffer = [];
  for (const event of waiting) fold(event);
  siteOptions();
  draw();
  notice("");
}

function reload() {
  loadLists().catch((error) => notice(error.message));
}

/* ---- the stream ---- */

function live(state, text) {
  const badge = document.getElementById("live");
  badge.dataset.state = state;
  badge.textContent = text;
}

function connect() {
  const resume = monitor.lastId == null ? "" : `?last_event_id=${enc(monitor.lastId)}`;
  const source = new EventSource(`${MONITORING}/v1/stream${resume}`, { withCredentials: true });
  monitor.source = source;
  source.onopen = () => {
    monitor.retryMs = 2000;
    monitor.opens += 1;
    live("live", "● live");
    const badge = document.getElementById("live");
    badge.dataset.opens = String(monitor.opens);
    badge.title = monitor.opens > 1 ? `reconnected ${monitor.opens - 1} times, resuming after event ${monitor.lastId}` : "connected";
    // Nothing to resume from (the first connection, or no event seen before a drop): read the lists
    // now; events that arrive meanwhile wait for the answer and are folded into it.
    if (monitor.lastId == null) reload();
  };
  source.onmessage = (message) => {
    if (message.lastEventId) monitor.lastId = message.lastEventId;
    let event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    if (!monitor.loaded) monitor.buffer.push(event);
    else { fold(event); drawSoon(); }
    const stamp = document.getElementById("updated");
    if (stamp) stamp.textContent = "last event " + new Date().toLocaleTimeString();
  };
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED) {
      live("reconnecting", "reconnecting…"); // the browser retries with Last-Event-ID itself
      return;
    }
    // The server answered with an error (or no stream): open a new one later, resuming by id.
    source.close();
    const wait = monitor.retryMs;
    monitor.retryMs = Math.min(monitor.retryMs * 2, 60000);
    live("offline", `offline, retrying in ${Math.round(wait / 1000)} s`);
    if (!monitor.loaded && monitor.latest === 0) reload(); // show what there is even without the stream
    setTimeout(connect, wait);
  };
}

/* ---- folding an event into its row (the rules of headrace.events.fold) ---- */

function laterThan(a, b) {
  return Date.parse(a) > Date.parse(b);
}

function statusWins(status, at, item) {
  if (!item.status) return true;
  const terminal = TERMINAL.has(status);
  if (terminal !== TERMINAL.has(item.status)) return terminal;
  const previous = item._status_at || (TERMINAL.has(item.status) ? item.ended_at : null);
  if (!previous) return true;
  if (Date.parse(at) === Date.parse(previous)) return status > item.status;
  return laterThan(at, previous);
}

function fold(event) {
  const { site } = filterValues();
  if (remoteSite(site)) return; // a remote site's rows do not come from this log
  monitor.seenSites.add(event.site_id);
  const subjob = event.entity_type === "subjob";
  const table = subjob ? monitor.subjobs : monitor.jobs;
  const key = keyOf(event.site_id, event.entity_id);
  let item = table.get(key);
  if (!item) {
    item = { site_id: event.site_id, status: null, started_at: null, ended_at: null, metadata: {}, inserted_at: event.inserted_at };
    if (subjob) {
      Object.assign(item, { subjob_id: event.entity_id, job_id: event.parent_id, parent_id: event.parent_id });
      const parent = monitor.jobs.get(keyOf(event.site_id, event.parent_id));
      if (parent) parent.subjob_count = (parent.subjob_count || 0) + 1;
    } else {
      Object.assign(item, { job_id: event.entity_id, subjob_count: 0 });
    }
    table.set(key, item);
    if (table.size > KEEP) table.delete(table.keys().next().value);
  }
  for (const [field, from] of [["app_id", "app_id"], ["app_name", "app_name"], ["app_version", "app_version"], ["job_key", "business_key"]]) {
    if (item[field] == null && event[from] != null) item[field] = event[from];
  }
  if (event.kind === "started" && (!item.started_at || laterThan(item.started_at, event.at))) item.started_at = event.at;
  const status = event.kind === "started" ? "running" : event.status || IMPLIED[event.kind] || null;
  if (status && statusWins(status, event.at, item)) {
    item.status = status;
    item._status_at = event.at;
    item.ended_at = TERMINAL.has(status) ? event.at : null;
  }
  for (const name of MEASURES) {
    const value = (event.metrics || {})[name];
    if (typeof value === "number" && (item[name] == null || value > item[name])) item[name] = value;
  }
  Object.assign(item.metadata, event.metadata || {});
  item._changed = Date.now();
}

/* ---- drawing ---- */

const startedOf = (item) => Date.parse(item.started_at || item.inserted_at || "") || 0;

function newest(a, b) {
  return startedOf(b) - startedOf(a);
}

function matches(item) {
  const { site, status } = filterValues();
  if (site.startsWith("id:") && item.site_id !== site.slice(3)) return false;
  return !status || item.status === status;
}

function duration(item) {
  let seconds = item.duration_s;
  if (seconds == null && item.started_at && item.ended_at) seconds = (Date.parse(item.ended_at) - Date.parse(item.started_at)) / 1000;
  if (seconds == null) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${Math.round(seconds % 60)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const fresh = (item) => (item._changed && Date.now() - item._changed < 3000 ? "changed" : "");

function draw() {
  const jobs = [...monitor.jobs.values()].filter(matches).sort(newest);
  const counts = {};
  for (const job of jobs) counts[job.status] = (counts[job.status] || 0) + 1;
  figures(document.getElementById("mon-counts"), ["running", "succeeded", "failed", "canceled"].map((s) => [s, counts[s] || 0]));
  rows(document.querySelector("#mon-jobs tbody"), jobs, (j) => el("tr", {
    "data-job": j.job_id, "data-site": j.site_id, class: [fresh(j), keyOf(j.site_id, j.job_id) === monitor.selected ? "selected" : ""].join(" ").trim(),
    title: "Show this job's subjobs", onclick: () => select(keyOf(j.site_id, j.job_id)),
  },
  el("td", {}, el("code", {}, j.job_id)), el("td", {}, j.app_name || "–"), el("td", {}, j.site_id),
  el("td", {}, j.status ? badge(j.status) : "–"), el("td", {}, when(j.started_at)), el("td", {}, when(j.ended_at)),
  el("td", {}, duration(j)), el("td", {}, j.subjob_count ?? "–")), "no jobs match");

  let subjobs = [...monitor.subjobs.values()].filter(matches);
  if (monitor.selected) subjobs = subjobs.filter((s) => keyOf(s.site_id, s.job_id) === monitor.selected);
  subjobs.sort(newest);
  const of = document.getElementById("subjobs-of");
  of.replaceChildren(...(monitor.selected
    ? [`of ${monitor.selected.split("|").slice(1).join("|")} `, el("button", { type: "button", class: "link", id: "all-subjobs", onclick: () => select(null) }, "show all")]
    : []));
  rows(document.querySelector("#mon-subjobs tbody"), subjobs, (s) => el("tr", { "data-subjob": s.subjob_id, "data-site": s.site_id, class: fresh(s) },
    el("td", {}, el("code", {}, s.subjob_id)), el("td", {}, el("code", {}, s.job_id || "–")), el("td", {}, s.status ? badge(s.status) : "–"),
    el("td", {}, s.app_name || "–"), el("td", {}, s.site_id), el("td", {}, when(s.started_at)), el("td", {}, duration(s))),
  "no subjobs match");
}

/* Many events at once (a catch-up after a drop) are drawn once, not once each. */
function drawSoon() {
  if (monitor.drawing) return;
  monitor.drawing = setTimeout(() => {
    monitor.drawing = null;
    draw();
  }, 100);
}

function select(key) {
  monitor.selected = key;
  draw();
}

/* The site filter: the sites seen in this deployment's log, then the remote sites of GET /v1/sites. */
function siteOptions() {
  const select = document.getElementById("mon-filters").elements.site;
  const chosen = select.value;
  const options = [el("option", { value: "" }, "every site in this deployment's log")];
  for (const id of [...monitor.seenSites].sort()) options.push(el("option", { value: `id:${id}` }, id));
  if (monitor.remoteSites.length) {
    options.push(el("option", { value: "remote:*" }, "all remote sites (not live)"));
    for (const site of monitor.remoteSites) options.push(el("option", { value: `remote:${site.id}` }, `remote: ${site.id} (not live)`));
  }
  select.replaceChildren(...options);
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : "";
}

async function monitoring() {
  const form = document.getElementById("mon-filters");
  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("change", () => {
    monitor.selected = null;
    reload();
  });
  monitoringApi("/v1/sites").then((answer) => {
    monitor.remoteSites = answer.sites || [];
    siteOptions();
  }).catch((error) => notice(error.message));
  live("connecting", "connecting…");
  connect();
  // Rows changed by an event are highlighted for 3 s: redraw (locally, no request) to clear it.
  setInterval(() => { if (document.querySelector("#mon-jobs tr.changed, #mon-subjobs tr.changed")) draw(); }, 3000);
  form.dataset.ready = "true";
}

monitoring();
