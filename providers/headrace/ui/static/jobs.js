/* Headrace UI: the Job queue page (needs headrace.js, loaded before it). */
"use strict";

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

jobs();
