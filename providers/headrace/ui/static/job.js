/* Headrace UI: a job's page (needs headrace.js, loaded before it): GET /jobs/{id} with its attempts
 * and output, polled while the job is pending or running (one job-queue request per poll) and not
 * after it ended; Cancel (pending) or Stop the run (running, ?force=true) for users allowed
 * DELETE /jobs/{id}. */
"use strict";

const FINAL = new Set(["completed", "failed", "cancelled"]);

function jobPage() {
  const id = body.dataset.jobId;
  let ended = false;
  const refresh = async () => {
    if (ended) return;
    let job;
    try {
      job = await api(`/jobs/${enc(id)}`);
    } catch (error) {
      if (error.status !== 404) throw error;
      ended = true;
      document.getElementById("job-details").hidden = true;
      document.getElementById("job-missing").hidden = false;
      document.getElementById("job-missing-text").textContent = error.message;
      return;
    }
    ended = FINAL.has(job.status);
    show(job);
  };
  const cancel = async (force) => {
    try {
      await api(`/jobs/${enc(id)}${force ? "?force=true" : ""}`, { method: "DELETE" });
      ended = false;
      await refresh();
      notice("");
    } catch (error) {
      notice(error.message);
    }
  };
  if (can("canCancel")) {
    document.getElementById("cancel").addEventListener("click", () => cancel(false));
    document.getElementById("stop").addEventListener("click", () => cancel(true));
  }
  poll(refresh);
}

function props(box, pairs) {
  box.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "–")]));
}

function show(job) {
  const page = document.getElementById("job-details");
  page.dataset.status = job.status;
  document.getElementById("job-status").replaceChildren(badge(job.status));
  props(document.querySelector("#job-properties .props"), [
    ["Type", job.type], ["Status", job.status + (job.cancel_requested ? " (stop requested)" : "")],
    ["Priority", job.priority], ["Executor", job.executor_id], ["Attempt", job.attempt || "not claimed yet"],
    ["Created", when(job.created_at)], ["Started", when(job.started_at)], ["Ended", when(job.completed_at)],
    ["Last heartbeat", when(job.heartbeat_at)], ["Exit code", job.exit_code], ["Error", job.error_message],
  ]);
  const variables = Object.keys(job.env_variables || {});
  props(document.querySelector("#job-binary .props"), [
    ["URL", el("code", {}, job.binary_url)], ["sha256", el("code", {}, job.binary_sha256)],
    ["Arguments", job.arguments.length ? el("code", {}, job.arguments.join(" ")) : "none"],
    ["Environment", variables.length ? `${variables.join(", ")} (values not shown)` : "none"],
  ]);
  const last = job.attempts.length ? job.attempts[job.attempts.length - 1].number : null;
  rows(document.querySelector("#attempts tbody"), job.attempts, (a) => el("tr", { "data-attempt": a.number },
    el("td", {}, a.number), el("td", {}, a.executor_id + (a.executor_ip ? ` (${a.executor_ip})` : "")),
    el("td", {}, when(a.started_at)), el("td", {}, when(a.ended_at)), el("td", {}, badge(a.status)),
    el("td", {}, attemptError(a, job, last))), "not claimed by an executor yet");
  output("stdout", job.stdout, job);
  output("stderr", job.stderr, job);
  if (can("canCancel")) {
    document.getElementById("cancel").hidden = job.status !== "pending";
    document.getElementById("stop").hidden = job.status !== "running" || job.cancel_requested;
  }
}

/* The API keeps the error of the job's last attempt; a lost attempt's executor stopped heartbeating. */
function attemptError(attempt, job, last) {
  if (attempt.status === "lost") return "the executor stopped sending heartbeats";
  if (attempt.number === last && job.error_message) return job.error_message;
  return "";
}

function output(name, text, job) {
  const box = document.querySelector(`#${name} .log`);
  if (text) box.textContent = text;
  else box.textContent = FINAL.has(job.status) ? "(empty)" : "(reported when the job ends)";
}

jobPage();
