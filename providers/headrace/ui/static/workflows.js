/* Headrace UI: the Workflows and pipelines page (needs headrace.js, loaded before it).
 *
 * The definitions (GET /workflows, with their latest run) and the pipelines (GET /pipelines) are read
 * once, then again only when the event log says a workflow run changed: the page listens to the
 * job-monitoring SSE stream and refreshes the lists at most once per poll interval (30 s), and a
 * run it follows at most once per FOLLOW_MS. Without the stream it falls back to polling every 30 s.
 * Generate, deploy and run call the pipelines API; each control is shown only to users the endpoint
 * behind it would accept (data-can-generate/-deploy/-run), and the API checks again.
 */
"use strict";

const WF_MONITORING = body.dataset.monitoring;
const AIRFLOW_ROOT = UI.slice(0, Math.max(0, UI.lastIndexOf("/pluginsv2/")));
const ENDED = new Set(["completed", "failed", "cancelled"]);
const FOLLOW_MS = 3000;
const LOAD_RETRIES = 20; // a just-deployed DAG: Airflow parses it within seconds
const JSON_HEADERS = { Accept: "application/json", "Content-Type": "application/json" };

const wf = {
  pipeline: null, // the pipeline shown in the draft panel: {id, definition}
  following: false,
  streamLive: false,
  lastLists: 0,
  listTimer: null,
  statusTimer: null,
  lastStatus: 0,
};

/* ---- YAML of a definition (JSON-compatible data; strings quoted unless plainly safe) ---- */

const PLAIN = /^[A-Za-z_][A-Za-z0-9_./-]*( [A-Za-z0-9_./-]+)*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i;
const FIRST_KEYS = ["id", "kind", "type", "name", "description", "owner", "project", "tags", "schedule", "start_date", "catchup",
  "paused", "params", "priority", "configuration", "depends_on", "source", "target", "steps"];

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  const text = String(value);
  return PLAIN.test(text) && !RESERVED.test(text) ? text : JSON.stringify(text);
}

const filled = (v) => v !== null && typeof v === "object" && Object.keys(v).length > 0;

function orderedKeys(object) {
  const keys = Object.keys(object);
  const first = FIRST_KEYS.filter((k) => keys.includes(k) && k !== "steps");
  const last = keys.includes("steps") ? ["steps"] : [];
  return [...first, ...keys.filter((k) => !FIRST_KEYS.includes(k)).sort(), ...last];
}

function yaml(value, indent = "") {
  if (Array.isArray(value)) {
    if (!value.length) return `${indent}[]`;
    return value.map((item) => (filled(item)
      ? `${indent}- ${yaml(item, indent + "  ").slice(indent.length + 2)}`
      : `${indent}- ${scalar(item)}`)).join("\n");
  }
  if (value !== null && typeof value === "object") {
    if (!filled(value)) return `${indent}{}`;
    return orderedKeys(value).map((key) => {
      const item = value[key];
      if (filled(item)) return `${indent}${scalar(key)}:\n${yaml(item, indent + "  ")}`;
      const empty = Array.isArray(item) ? "[]" : item !== null && typeof item === "object" ? "{}" : scalar(item);
      return `${indent}${scalar(key)}: ${empty}`;
    }).join("\n");
  }
  return indent + scalar(value);
}

/* ---- the lists ---- */

function airflowLink(dagId) {
  return el("a", { href: `${AIRFLOW_ROOT}/dags/${enc(dagId)}`, target: "_top", title: "Open the DAG in Airflow" }, dagId);
}

async function loadLists() {
  wf.lastLists = Date.now();
  const [listed, pipelines] = await Promise.all([api("/workflows?limit=100"), api("/pipelines?per_page=100")]);
  const runs = new Map(listed.workflows.map((w) => [w.workflow_id, w]));
  rows(document.querySelector("#workflows tbody"), listed.workflows, (w) => el("tr", { "data-workflow": w.workflow_id },
    el("td", {}, airflowLink(w.workflow_id)), el("td", {}, w.name),
    el("td", {}, w.status === "created" ? el("span", { class: "muted" }, "no run yet") : badge(w.status)),
    el("td", {}, `${w.progress}%`), el("td", {}, w.priority), el("td", {}, when(w.created_at))),
  "no workflow definitions");
  rows(document.querySelector("#pipelines tbody"), pipelines, (p) => {
    const run = runs.get(p.pipeline_id);
    return el("tr", { "data-pipeline": p.pipeline_id },
      el("td", {}, p.status === "draft" ? el("code", {}, p.pipeline_id) : airflowLink(p.pipeline_id)), el("td", {}, p.name),
      el("td", {}, badge(p.status)),
      el("td", {}, run && run.status !== "created" ? badge(run.status) : el("span", { class: "muted" }, "–")),
      el("td", {}, p.schedule || "–"),
      el("td", {}, el("button", { type: "button", class: "link show", onclick: () => show(p.pipeline_id, p.dag_definition, null) }, "show")));
  }, "no pipelines");
  const stamp = document.getElementById("updated");
  stamp.textContent = "updated " + new Date().toLocaleTimeString();
}

/* At most one list refresh per poll interval, however many events ask for one. */
function refreshLists() {
  if (wf.listTimer) return;
  const wait = Math.max(0, wf.lastLists + POLL_MS - Date.now());
  wf.listTimer = setTimeout(() => {
    wf.listTimer = null;
    loadLists().catch((error) => notice(error.message));
  }, wait);
}

/* ---- the draft panel: definition, warnings, deploy, run, status ---- */

function show(pipelineId, definition, validation) {
  wf.pipeline = { id: pipelineId, definition };
  wf.following = false;
  document.getElementById("draft").hidden = false;
  document.getElementById("draft-id").textContent = pipelineId;
  document.getElementById("draft-name").textContent = [definition.name, definition.description].filter(Boolean).join(" — ");
  const box = document.getElementById("draft-validation");
  box.replaceChildren(...(validation ? [badge(validation.status)] : []));
  const warnings = validation ? validation.warnings : [];
  document.getElementById("draft-warnings-box").hidden = !warnings.length;
  document.getElementById("draft-warnings").replaceChildren(...warnings.map((w) => el("li", {}, w)));
  document.getElementById("draft-yaml").textContent = yaml(definition);
  document.getElementById("draft-code").textContent = "";
  document.getElementById("draft-code").parentElement.hidden = true; // shown with generate's answer
  const params = document.getElementById("run-params");
  if (params) {
    const defaults = {};
    for (const [name, spec] of Object.entries(definition.params || {})) if (spec && "default" in spec) defaults[name] = spec.default;
    params.value = JSON.stringify(defaults);
  }
  refreshStatus().catch((error) => notice(error.message));
}

async function generate(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const description = form.elements.description.value.trim();
    const drafted = await api("/pipelines:generate", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ description }) });
    show(drafted.pipeline_id, drafted.dag_definition, drafted.validation);
    document.getElementById("draft-code").textContent = drafted.code;
    document.getElementById("draft-code").parentElement.hidden = false;
    notice("");
    loadLists().catch((error) => notice(error.message));
  } catch (error) {
    notice(error.message);
  } finally {
    button.disabled = false;
  }
}

async function deploy() {
  const button = document.getElementById("deploy");
  button.disabled = true;
  try {
    await api(`/pipelines/${enc(wf.pipeline.id)}:deploy`, { method: "POST", headers: JSON_HEADERS, body: "{}" });
    notice("");
    await refreshStatus();
    await loadLists();
  } catch (error) {
    notice(error.message);
  } finally {
    button.disabled = false;
  }
}

async function run() {
  const button = document.getElementById("run");
  let params;
  try {
    params = JSON.parse(document.getElementById("run-params").value || "{}");
    if (params === null || typeof params !== "object" || Array.isArray(params)) throw new Error("not an object");
  } catch (error) {
    notice("Run parameters: a JSON object is needed, e.g. {\"min_amount\": 100}");
    return;
  }
  button.disabled = true;
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await api(`/pipelines/${enc(wf.pipeline.id)}:run`, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ params }) });
        break;
      } catch (error) {
        // Just deployed: Airflow's dag-processor parses it within seconds; wait for it, a bounded number of times.
        if (error.status !== 409 || !/has not loaded/.test(error.message) || attempt >= LOAD_RETRIES) throw error;
        notice("Waiting for Airflow to load the DAG…");
        await new Promise((done) => setTimeout(done, FOLLOW_MS));
      }
    }
    notice("");
    wf.following = true;
    await refreshStatus();
  } catch (error) {
    notice(error.message);
  } finally {
    button.disabled = false;
  }
}

function followBadge() {
  const badge = document.getElementById("follow");
  const state = !wf.following ? "idle" : wf.streamLive ? "live" : "polling";
  badge.dataset.state = state;
  badge.textContent = { idle: "", live: "● live", polling: `every ${POLL_MS / 1000} s` }[state];
}

async function refreshStatus() {
  if (!wf.pipeline) return;
  const id = wf.pipeline.id;
  wf.lastStatus = Date.now();
  const status = await api(`/pipelines/${enc(id)}/status`);
  if (!wf.pipeline || wf.pipeline.id !== id) return;
  document.getElementById("run-status").hidden = false;
  const props = document.getElementById("status-props");
  const pairs = [
    ["Status", badge(status.status)], ["Run", status.run_id || "–"], ["Current task", status.current_task || "–"],
    ["Progress", `${status.progress}%`], ["Started", when(status.started_at)],
    ["Estimated completion", when(status.estimated_completion)], ["Ended", when(status.ended_at)],
  ];
  props.replaceChildren(...pairs.flatMap(([label, value]) => [el("dt", {}, label), el("dd", { "data-field": label.toLowerCase().replace(/ /g, "-") }, value)]));
  props.dataset.status = status.status;
  document.getElementById("run-progress").value = status.progress;
  const deployButton = document.getElementById("deploy");
  if (deployButton) deployButton.hidden = status.status !== "draft";
  const runButton = document.getElementById("run");
  if (runButton) runButton.disabled = status.status === "draft";
  if (status.run_id && !ENDED.has(status.status)) wf.following = true;
  if (ENDED.has(status.status) && wf.following) {
    wf.following = false;
    refreshLists();
  }
  followBadge();
}

/* A followed run's status, at most once per FOLLOW_MS. */
function followSoon() {
  if (wf.statusTimer) return;
  wf.statusTimer = setTimeout(() => {
    wf.statusTimer = null;
    refreshStatus().catch((error) => notice(error.message));
  }, Math.max(0, wf.lastStatus + FOLLOW_MS - Date.now()));
}

/* The event log's stream: which runs changed. Airflow runs are events of app name = DAG id. */
function listen() {
  const source = new EventSource(`${WF_MONITORING}/v1/stream`, { withCredentials: true });
  source.onopen = () => { wf.streamLive = true; followBadge(); };
  source.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch (e) { return; }
    if (event.source !== "airflow") return;
    if (wf.pipeline && wf.following && event.app_name === wf.pipeline.id) followSoon();
    if (event.entity_type === "job" && (event.metadata || {}).headrace === "workflow") refreshLists();
  };
  source.onerror = () => {
    wf.streamLive = source.readyState === EventSource.OPEN;
    followBadge();
    if (source.readyState === EventSource.CLOSED) setTimeout(listen, POLL_MS); // refused: try again later
  };
}

function workflows() {
  const form = document.getElementById("generate-form");
  if (form) form.addEventListener("submit", generate);
  const deployButton = document.getElementById("deploy");
  if (deployButton) deployButton.addEventListener("click", deploy);
  const runButton = document.getElementById("run");
  if (runButton) runButton.addEventListener("click", run);
  loadLists().catch((error) => notice(error.message));
  listen();
  // Without the stream: the lists and a followed run every poll interval, only while visible.
  setInterval(() => {
    if (wf.streamLive || document.hidden || Date.now() < pausedUntil) return;
    loadLists().catch((error) => notice(error.message));
    if (wf.following) refreshStatus().catch((error) => notice(error.message));
  }, POLL_MS);
  document.body.dataset.ready = "true";
}

workflows();
