/* Headrace UI: the Ingestion jobs page (the jobs, each linking to its DagRun; a form that starts a
 * job and checks it with POST /ingestion/validate as you type) and the dag_run tab of
 * headrace_ingestion runs (needs headrace.js, loaded before it).
 *
 * Requests of the ingestion namespace, whose budget is [headrace] rate_limit (100) per 15 minutes:
 * the list polls once per data-poll seconds while visible (30 per 15 minutes); live validation is
 * debounced, sent only when the form's body changed since the last check, and capped at
 * CHECK_LIMIT per 15 minutes for all tabs of the browser together (kept in localStorage); starting,
 * cancelling and the page's first load are one request each.
 */
"use strict";

const AIRFLOW = body.dataset.airflow || "";
const DAG_ID = body.dataset.dagId;
const ACTIVE = new Set(["starting", "running"]);
const CHECK_DELAY_MS = 600;
const CHECK_LIMIT = 30;
const CHECK_WINDOW_MS = 15 * 60 * 1000;
const CHECKS_KEY = "headrace.ingestion.validations";
const EXTENSIONS = { csv: "csv", tsv: "csv", json: "json", jsonl: "json", ndjson: "json", parquet: "parquet", avro: "avro", orc: "orc" };

const dagRunUrl = (runId) => `${AIRFLOW}/dags/${enc(DAG_ID)}/runs/${enc(runId)}`;
/* A Headrace page shown inside Airflow's navigation entry (Airflow maps /plugin/headrace/<path> to the iframe). */
const headraceUrl = (path) => `${AIRFLOW}/plugin/headrace${UI}${path}`;

/* Open a link in Airflow's own window. The iframe Airflow puts the pages in is sandboxed without
 * allow-top-navigation, so the browser refuses a plain target="_top" (and logs an error); the frame
 * is of the same origin, so the click is handed to the top document as a link of its own. */
function toTop(link, href) {
  link.href = href;
  link.target = "_top";
  link.addEventListener("click", (event) => {
    if (window.top === window || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    try {
      const top = window.top.document;
      const proxy = top.createElement("a");
      proxy.href = new URL(href, window.location.href).href;
      top.body.append(proxy);
      proxy.click();
      proxy.remove();
      event.preventDefault();
    } catch (error) {
      /* a parent of another origin: leave it to target="_top" */
    }
  });
  return link;
}

const topLink = (href, attrs, ...children) => toTop(el("a", attrs, ...children), href);

/* The API's timestamps are nanoseconds since the epoch, as strings. */
function nanos(ns) {
  return ns ? new Date(Number(BigInt(ns) / 1000000n)).toLocaleString() : "–";
}

function count(n) {
  return n == null ? "–" : Number(n).toLocaleString();
}

/* A target "catalog.schema.table" linking to its table page in Headrace: in this frame, or (from the
 * dag_run tab) in Airflow's window, on the Headrace entry of its navigation. */
function tableLink(target, inAirflow) {
  const parts = String(target || "").split(".");
  if (parts.length !== 3) return target || "–";
  const path = `/lakehouse/${parts.map(enc).join("/")}`;
  return inAirflow ? topLink(headraceUrl(path), { class: "table-link" }, target) : el("a", { class: "table-link", href: UI + path }, target);
}

async function cancelJob(id, after) {
  try {
    await api(`/ingestion/jobs/${enc(id)}`, { method: "DELETE" });
  } catch (error) {
    notice(error.message);
  }
  await after();
}

/* ------------------------------------------------------------------------------- the job list */

function jobList() {
  const filters = document.getElementById("filters");
  const tbody = document.querySelector("#ingestion-jobs tbody");
  let latest = 0;  // a poll, a filter change and a new job may overlap: only the newest answer is shown
  let fresh = null;  // the job this page just started, marked in the list
  const refresh = async () => {
    const query = new URLSearchParams({ limit: "50" });
    if (filters.status.value) query.set("status", filters.status.value);
    const mine = ++latest;
    const list = await api(`/ingestion/jobs?${query}`);
    if (mine !== latest) return;
    rows(tbody, list, (j) => el("tr", { "data-job": j.job_id, "data-status": j.status, class: j.job_id === fresh ? "fresh" : "" },
      el("td", {}, topLink(dagRunUrl(j.job_id), { class: "dagrun", title: "Open the DagRun in Airflow's grid" }, el("code", {}, j.job_id))),
      el("td", {}, badge(j.status)),
      el("td", { class: "target" }, tableLink(j.target_table)),
      el("td", { class: "rows" }, count(j.rows_written)),
      el("td", {}, nanos(j.start_timestamp)),
      el("td", {}, nanos(j.end_timestamp)),
      el("td", { class: "details" }, j.details || ""),
      el("td", {}, can("canCancelIngestion") && ACTIVE.has(j.status)
        ? el("button", { class: "cancel", onclick: () => cancelJob(j.job_id, refresh) }, "Cancel") : "")),
    filters.status.value ? `no ${filters.status.value} jobs` : "no ingestion jobs yet");
  };
  const show = () => refresh().catch((error) => notice(error.message));
  filters.addEventListener("change", show);
  filters.addEventListener("submit", (event) => event.preventDefault());
  filters.dataset.ready = "true";
  poll(refresh);
  return (jobId) => { fresh = jobId; return show(); };
}

/* ------------------------------------------------------------------------------- the form */

/* One more live check within the budget shared by this browser's tabs, or false when it is spent. */
function takeCheck() {
  const now = Date.now();
  let stamps = [];
  try {
    stamps = JSON.parse(window.localStorage.getItem(CHECKS_KEY) || "[]").filter((t) => now - t < CHECK_WINDOW_MS);
  } catch (error) {
    stamps = [];
  }
  if (stamps.length >= CHECK_LIMIT) return false;
  stamps.push(now);
  try { window.localStorage.setItem(CHECKS_KEY, JSON.stringify(stamps)); } catch (error) { /* private mode: no cap across tabs */ }
  return true;
}

/* The request body of the form: fields left empty are left out, so the API names them as missing. */
function specOf(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const list = (name) => value(name).split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
  const target = {};
  for (const part of ["catalog", "schema", "table"]) if (value(`target.${part}`)) target[part] = value(`target.${part}`);
  target.write_mode = value("target.write_mode");
  if (target.write_mode === "merge") target.merge_keys = list("target.merge_keys");
  const source = {};
  const paths = list("source.file_paths");
  if (paths.length) source.file_paths = paths.length === 1 ? paths[0] : paths;
  if (value("source.file_type")) source.file_type = value("source.file_type");
  if (source.file_type === "csv") {
    source.file_format_properties = {
      field_delimiter: form.elements.namedItem("source.file_format_properties.field_delimiter").value,
      header: form.elements.namedItem("source.file_format_properties.header").checked,
    };
  }
  return { target, source };
}

/* The form field an API error names: "<field>: ..." (the location the API puts first), or the
 * contract's worded messages ("Target table is required", "Invalid file type ..."). */
const WORDED = [
  [/merge_keys/, "target.merge_keys"],
  [/^Target catalog|^Catalog '/, "target.catalog"],
  [/^Target schema/, "target.schema"],
  [/^Target table/, "target.table"],
  [/^Source file paths/, "source.file_paths"],
  [/^Source file type|^Invalid file type|file_format_properties apply/, "source.file_type"],
];

function fieldError(fields, location, message) {
  const prefix = /^([A-Za-z_][\w.]*): (.+)$/s.exec(message);
  const loc = location || (prefix ? prefix[1] : "");
  const text = prefix && (!location || prefix[1] === location) ? prefix[2] : message;
  for (const [pattern, field] of WORDED) if (pattern.test(message)) return { field, text };
  const field = fields.filter((f) => loc === f || loc.startsWith(f + ".")).sort((a, b) => b.length - a.length)[0];
  return field ? { field, text } : { field: null, text: message };
}

function ingestForm(refreshList) {
  const form = document.getElementById("ingest-form");
  if (!form) return;
  const state = document.getElementById("validation-state");
  const general = document.getElementById("form-errors");
  const button = form.querySelector("button[type=submit]");
  const fields = [...form.querySelectorAll("[data-error-for]")].map((node) => node.dataset.errorFor);
  const touched = new Set();
  let errors = [];  // [{field, text}] of the newest answer
  let submitted = false;  // after a submit every error shows, touched or not
  let lastChecked = null;  // the body of the newest check: the same body is not checked again
  let latest = 0;
  let timer = 0;

  const show = () => {
    const shown = (field) => submitted || touched.has(field);
    for (const box of form.querySelectorAll("[data-error-for]")) {
      const field = box.dataset.errorFor;
      const mine = shown(field) ? errors.filter((e) => e.field === field).map((e) => e.text) : [];
      box.textContent = mine.join("; ");
      const input = form.elements.namedItem(field);
      if (input) input.setAttribute("aria-invalid", mine.length ? "true" : "false");
    }
    const rest = errors.filter((e) => !e.field || !fields.includes(e.field));
    general.replaceChildren(...(submitted || touched.size ? rest : []).map((e) => el("li", {}, e.text)));
  };
  const toggle = () => {
    const mode = form.elements.namedItem("target.write_mode").value;
    const type = form.elements.namedItem("source.file_type").value;
    for (const node of form.querySelectorAll("[data-show-for]")) node.hidden = ![mode, type].includes(node.dataset.showFor);
  };

  const check = async () => {
    const payload = JSON.stringify(specOf(form));
    if (payload === lastChecked) return;
    if (Date.now() < pausedUntil) { state.textContent = "Live checks wait for the API's rate limit; Start still checks."; return; }
    if (!takeCheck()) { state.textContent = `Live checks paused (${CHECK_LIMIT} per 15 minutes); Start still checks.`; return; }
    lastChecked = payload;
    const mine = ++latest;
    state.textContent = "checking…";
    try {
      const result = await api("/ingestion/validate", {
        method: "POST", headers: { Accept: "application/json", "Content-Type": "application/json" }, body: payload,
      });
      if (mine !== latest) return;
      errors = result.errors.map((message) => fieldError(fields, "", message));
      state.textContent = result.valid ? "✓ valid" : `${result.errors.length} problem(s)`;
      form.dataset.checked = String(mine);
      show();
    } catch (error) {
      lastChecked = null;
      if (mine === latest) state.textContent = error.message;
    }
  };
  const changed = (event) => {
    if (event.target.name) touched.add(event.target.name);
    toggle();
    show();
    clearTimeout(timer);
    timer = setTimeout(check, CHECK_DELAY_MS);
  };
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    submitted = true;
    button.disabled = true;
    state.textContent = "starting…";
    try {
      const response = await fetch(`${API}/ingestion/jobs`, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(specOf(form)),
      });
      const answer = await response.json().catch(() => null);
      if (response.status === 429) pausedUntil = Date.now() + 1000 * Number(response.headers.get("Retry-After") || 60);
      if (response.status === 201) {
        const job = answer.data;
        errors = [];
        submitted = false;
        touched.clear();
        state.replaceChildren("Started ", topLink(dagRunUrl(job.job_id), { class: "started" }, job.job_id));
        show();
        await refreshList(job.job_id);
      } else if (response.status === 400 && answer && Array.isArray(answer.details)) {
        errors = answer.details.map((d) => fieldError(fields, d.field, d.message));
        state.textContent = `${errors.length} problem(s): the job was not started`;
        show();
      } else {
        state.textContent = errorMessage(response.status, answer);
      }
    } catch (error) {
      state.textContent = "The request did not reach the server.";
    } finally {
      button.disabled = false;
    }
  });

  toggle();
  Promise.all([api("/ingestion/file-types"), api("/catalog").catch(() => [])]).then(([types, catalogs]) => {
    const select = form.elements.namedItem("source.file_type");
    select.append(...types.map((t) => el("option", { value: t }, t)));
    document.getElementById("catalog-names").replaceChildren(...catalogs.map((c) => el("option", { value: c.name })));
    prefill(form, types);
    toggle();
    form.dataset.ready = "true";
  }).catch((error) => notice(error.message));
}

/* ?file=s3://... (the Lakehouse page's "Ingest…" link): the path, its type and a table named after it. */
function prefill(form, types) {
  const file = new URLSearchParams(window.location.search).get("file");
  if (!file) return;
  form.elements.namedItem("source.file_paths").value = file;
  const name = file.split("/").pop();
  const type = EXTENSIONS[name.split(".").pop().toLowerCase()];
  if (types.includes(type)) form.elements.namedItem("source.file_type").value = type;
  const table = name.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_-]+/g, "_");
  if (table) form.elements.namedItem("target.table").value = table;
  form.elements.namedItem("target.catalog").focus();
}

/* ------------------------------------------------------------------------------- the dag_run tab */

function dagRunTab() {
  if (body.dataset.ingestionRun !== "true") return;  // another DAG's run: the template says so
  toTop(document.getElementById("all-jobs"), headraceUrl("/ingestion"));
  const runId = body.dataset.runId;
  const box = document.querySelector("#ingestion-run .props");
  let finished = false;
  let timer = 0;
  const load = async () => {
    clearTimeout(timer);
    if (!document.hidden && Date.now() >= pausedUntil) {
      try {
        const j = await api(`/ingestion/jobs/${enc(runId)}`);
        const pairs = [["Status", badge(j.status)], ["Target table", tableLink(j.target_table, true)], ["Rows written", count(j.rows_written)],
          ["Bytes read", j.bytes_read == null ? "–" : bytes(j.bytes_read)], ["Files loaded", (j.files_loaded || []).join(", ") || "–"],
          ["Files skipped", (j.files_skipped || []).join(", ") || "–"], ["Source", [].concat(j.source_data_files || []).join(", ") || "–"],
          ["Snapshot or version", j.version || "–"], ["Started by", j.username], ["Started", nanos(j.start_timestamp)],
          ["Finished", nanos(j.end_timestamp)], ["Details", j.details]];
        box.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k.toLowerCase().replaceAll(" ", "-") }, v ?? "–")]));
        box.dataset.status = j.status;
        finished = !ACTIVE.has(j.status);
        document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
        notice("");
      } catch (error) {
        if (error.status === 404) {
          finished = true;
          box.replaceChildren(el("dt", {}, "Status"), el("dd", {}, "No ingestion job for this run."));
        } else {
          notice(error.message);
        }
      }
    }
    if (!finished) timer = setTimeout(load, POLL_MS);  // a running job is looked at again; a finished one no more
  };
  document.addEventListener("visibilitychange", () => { if (!document.hidden && !finished) load(); });
  load();
}

if (body.dataset.runId !== undefined) {
  dagRunTab();
} else {
  ingestForm(jobList());
}
