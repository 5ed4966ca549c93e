/* Headrace UI: the Lakehouse page and the table page (needs headrace.js, loaded before it). */
"use strict";

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
        const row = el("tr", { class: "uploaded" }, el("td", {}, f.fileName), el("td", {}, bytes(f.size)), el("td", {}, el("code", {}, f.s3Path)),
          el("td", {}, f.replaced ? "replaced" : "stored"));
        /* --- ingest link (begin) */
        row.lastChild.append(" ", el("a", { class: "ingest", href: `${UI}/ingestion?${new URLSearchParams({ file: f.s3Path })}#start` }, "Ingest…"));
        /* --- ingest link (end) */
        tbody.append(row);
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
  await snapshots(catalog, schema, name);
}

/* GET .../snapshots (newest first): each Headrace write names its job, linked to the Ingestion jobs page. */
async function snapshots(catalog, schema, name) {
  const tbody = document.querySelector("#snapshots tbody");
  const note = document.getElementById("snapshots-note");
  let history;
  try {
    history = await api(`/catalog/${enc(catalog)}/schema/${enc(schema)}/table/${enc(name)}/snapshots?limit=100`);
  } catch (error) {
    rows(tbody, [], null, `Not available: ${error.message}`);
    return;
  }
  const count = (n) => (n == null ? "–" : n.toLocaleString());
  rows(tbody, history.snapshots, (s) => el("tr", { "data-version": s.version, class: s.version === history.current_version ? "current" : "" },
    el("td", {}, el("code", {}, s.version), s.version === history.current_version ? el("span", { class: "muted" }, " current") : ""),
    el("td", {}, when(s.committed_at)),
    el("td", {}, s.operation, s.write_mode && !s.operation.includes(s.write_mode) ? el("span", { class: "muted" }, ` (job: ${s.write_mode})`) : ""),
    el("td", {}, count(s.rows_added)), el("td", {}, count(s.rows_deleted)),
    el("td", {}, s.job_id ? el("a", { href: `${UI}/ingestion?job_id=${enc(s.job_id)}`, class: "job-link" }, el("code", {}, s.job_id))
      : el("span", { class: "muted" }, "not a Headrace job"))),
    "no snapshots yet");
  note.textContent = (history.truncated ? "The newest 100 are shown. " : "") +
    "Snapshots a format has expired or cleaned up are no longer listed.";
  tbody.closest("section").dataset.ready = "true";
}

if (body.dataset.table) table(); else lakehouse();
