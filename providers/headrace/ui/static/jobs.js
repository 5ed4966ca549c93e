/* Headrace UI: the Job queue page (needs headrace.js, loaded before it): counts, the jobs (each
 * linking to its page) and the executors with their last heartbeat. Per poll: the jobs and the
 * counts (job-queue namespace; counts for administrators only) and GET /agents (agents namespace). */
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
    executors();
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
      el("td", {}, el("a", { href: jobHref(j.id), class: "job-link" }, el("code", {}, j.id))), el("td", {}, j.type), el("td", {}, badge(j.status)), el("td", {}, j.priority),
      el("td", {}, j.executor_id || "–"), el("td", {}, when(j.created_at)),
      el("td", {}, can("canCancel") && j.status === "pending" ? el("button", { class: "cancel", onclick: () => cancel(j.id, refresh) }, "Cancel") : "")),
      "no jobs match");
  };
  filters.addEventListener("change", () => refresh().catch((e) => notice(e.message)));
  filters.addEventListener("submit", (e) => e.preventDefault());
  filters.dataset.ready = "true";
  poll(refresh);
}

function jobHref(id) {
  return `${UI}/jobs/${enc(id)}`;
}

/* Executors from GET /agents: heartbeat, status against the heartbeat timeout, the job they run.
 * Not awaited by the jobs' refresh: a failure here says so in this panel only. */
let executorsAt = 0;
async function executors() {
  if (Date.now() - executorsAt < POLL_MS / 2) return;  // a filter change does not fetch them again
  executorsAt = Date.now();
  const tbody = document.querySelector("#executors tbody");
  try {
    const answer = await api("/agents");
    const list = answer.agents.filter((a) => a.type === "executor");
    rows(tbody, list, (a) => el("tr", { "data-executor": a.agent_id },
      el("td", {}, el("code", {}, a.agent_id), a.hostname ? el("span", { class: "muted" }, ` ${a.hostname}`) : ""),
      el("td", {}, badge(a.status)),
      el("td", {}, a.current_task ? el("a", { href: jobHref(a.current_task.task_id) }, el("code", {}, a.current_task.task_id)) : "–"),
      el("td", {}, when(a.last_heartbeat)),
      el("td", {}, `${a.performance?.completed_tasks ?? 0} / ${a.performance?.failed_tasks ?? 0}`)),
      "no executor seen in the last 24 hours (start one with: headrace executor)");
  } catch (error) {
    rows(tbody, [], null, `Not available: ${error.message}`);
  }
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
