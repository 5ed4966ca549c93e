/* Headrace pages in the Airflow UI: what every page shares (loaded first; each page's own script,
 * static/<page>.js, follows it and starts the page).
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

followTheme();
