// The dashboard's pages, routed by the URL's fragment:
//   #/                      overview (/api/overview every 5 s)
//   #/jobs/QUEUE/STATE      one list, a page at a time (/api/jobs);
//                           ?handler=H&prefix=P filters it
//   #/job/QUEUE/ID          one job (/api/job)
//   #/live                  lifecycle events as they come (/api/events)
// Everything from the API is written with textContent only, so whatever a
// job, a queue or a daemon summary holds shows as text.
"use strict";

const REFRESH_MS = 5000;
const PAGE = 50;
const LISTS = ["delayed", "active", "dead", "done", "failed"];

let timer = null;
let cursors = [];	// the list view's cursors: one per page shown so far
let session = null;	// {csrf, read_only} from /api/session
let events = null;	// the live view's EventSource, while it shows
const LIVE_ROWS = 200;

// A table cell holding text (class cls when given).
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "–" : String(text);
  if (cls) td.className = cls;
  return td;
}

// A link to href holding text.
function link(text, href) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}

// A number cell; warn or bad when the value asks for attention; a link
// to href when given.
function num(v, level, href) {
  const td = cell("", "n" + (level && v > 0 ? " " + level : ""));
  const text = v === undefined || v === null ? "–" : v.toLocaleString();
  if (href && v !== undefined && v !== null) td.replaceChildren(link(text, href));
  else td.textContent = text;
  return td;
}

// How long ago ms (epoch) was, for people.
function ago(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

// How long from ms to now (epoch ms), for people.
function span(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " days";
}

// ms since the epoch as local date and time.
function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "–";
}

function jobsHref(q, state) {
  return "#/jobs/" + encodeURIComponent(q) + "/" + state;
}

function jobHref(q, id) {
  return "#/job/" + encodeURIComponent(q) + "/" + encodeURIComponent(id);
}

// GET an API path as JSON; an error says what went wrong.
async function api(path) {
  const res = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!res.ok) {
    let why = "HTTP " + res.status;
    try { why += ": " + (await res.json()).error; } catch (e) { /* text */ }
    throw new Error(why);
  }
  return res.json();
}

// POST an action (deferctl's scripts) with the page's anti-CSRF token;
// confirm first when ask is given; then show the page again.
async function act(path, ask) {
  if (ask && !window.confirm(ask)) return;
  try {
    const res = await fetch(path, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": session.csrf } });
    const o = await res.json();
    if (!res.ok) throw new Error(o.error || "HTTP " + res.status);
    setStatus(o.action + ": " + (o.result !== undefined ? o.result :
      o.count + " job(s)" + (o.more ? ", more left" : "")), false);
  } catch (e) {
    setStatus(path.split("?")[0] + " failed: " + e.message, true);
    return;
  }
  route();
}

// Buttons for the actions in box: [label, path, confirmation or null].
function actions(box, list) {
  box.replaceChildren();
  if (!session || session.read_only) return;
  for (const [label, path, ask] of list) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.onclick = () => act(path, ask);
    box.append(b);
  }
}

function setStatus(text, bad) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = bad ? "status bad" : "status";
}

// A definition list of [name, value] rows; a value may be a node.
function fillList(dl, rows) {
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    if (v instanceof Node) dd.append(v);
    else dd.textContent = v === undefined || v === null ? "–" : String(v);
    dl.append(dt, dd);
  }
}

function renderQueues(body, queues) {
  body.replaceChildren();
  for (const q of queues) {
    const tr = document.createElement("tr");
    tr.append(cell(q.name), num(q.delayed, null, jobsHref(q.name, "delayed")),
      num(q.due, "warn"), num(q.active, null, jobsHref(q.name, "active")),
      num(q.dead, "bad", jobsHref(q.name, "dead")),
      num(q.done, null, jobsHref(q.name, "done")),
      num(q.failed, "bad", jobsHref(q.name, "failed")));
    tr.append(cell(q.paused ? "paused" : "running", q.paused ? "warn" : "ok"));
    body.append(tr);
  }
}

function renderDaemons(body, daemons, now) {
  body.replaceChildren();
  if (daemons.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("no daemon ran jobs in the last minute", "muted");
    td.colSpan = 9;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const d of daemons) {
    const tr = document.createElement("tr");
    const st = d.start_lateness_ms || {};
    tr.append(cell(d.daemon), cell(d.version),
      cell(d.started_ms ? span(d.started_ms, now) : "–"),
      cell((d.running ?? "–") + " / " + (d.concurrency ?? "–"), "n"),
      num(d.claimed), num(st.p50), num(st.p99), num(st.max),
      cell(d.ts_ms ? ago(d.ts_ms, now) : "–", "muted"));
    body.append(tr);
  }
}

const SVG = "http://www.w3.org/2000/svg";

// An SVG element of name with attributes.
function svg(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

// The chart's frame: the largest value and "60 min ago … now" as text.
function frame(el, top, unit) {
  el.replaceChildren();
  const t = svg("text", { x: 4, y: 12 });
  t.textContent = top.toLocaleString() + unit;
  const l = svg("text", { x: 4, y: 116 });
  l.textContent = "60 min ago";
  const r = svg("text", { x: 596, y: 116, "text-anchor": "end" });
  r.textContent = "now";
  el.append(t, l, r);
}

// Bars of jobs per minute: done, with failed on top.
function drawJobs(el, done, failed) {
  const top = Math.max(1, ...done.map((d, i) => d + failed[i]));
  frame(el, top, " jobs/min");
  const w = 600 / done.length, h = 96;
  done.forEach((d, i) => {
    const hd = d / top * h, hf = failed[i] / top * h;
    if (hd > 0) el.append(svg("rect", { class: "done", x: i * w + 1,
      y: 104 - hd, width: w - 2, height: hd }));
    if (hf > 0) el.append(svg("rect", { class: "failed", x: i * w + 1,
      y: 104 - hd - hf, width: w - 2, height: hf }));
  });
}

// A line of the p99 per minute, broken where a minute had no jobs.
function drawLate(el, p99) {
  const top = Math.max(1, ...p99);
  frame(el, top, " ms p99");
  const w = 600 / p99.length;
  let pts = [];
  const flush = () => {
    if (pts.length === 1) pts.push(pts[0]);	/* a lone minute: a dot */
    if (pts.length > 0)
      el.append(svg("polyline", { class: "p99", points: pts.join(" ") }));
    pts = [];
  };
  p99.forEach((v, i) => {
    if (v < 0) { flush(); return; }
    pts.push((i * w + w / 2).toFixed(1) + "," + (104 - v / top * 96).toFixed(1));
  });
  flush();
}

async function showOverview() {
  const o = await api("/api/overview");
  document.getElementById("ns").textContent = "namespace " + o.namespace;
  renderQueues(document.querySelector("#queues tbody"), o.queues);
  renderDaemons(document.querySelector("#daemons tbody"), o.daemons, o.time_ms);
  if (o.series) {
    drawJobs(document.getElementById("chart-jobs"), o.series.done, o.series.failed);
    drawLate(document.getElementById("chart-late"), o.series.start_p99_ms);
  }
  const r = o.redis || {};
  fillList(document.getElementById("redis"), [["version", r.version],
    ["memory used", r.used_memory_human], ["clients", r.connected_clients]]);
  return "updated " + new Date(o.time_ms).toLocaleTimeString();
}

async function showList(queue, state, filters) {
  const cursor = cursors[cursors.length - 1] || "";
  const handler = filters.get("handler") || "", prefix = filters.get("prefix") || "";
  const q = "/api/jobs?queue=" + encodeURIComponent(queue) + "&state=" + state +
    "&limit=" + PAGE + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "") +
    (handler ? "&handler=" + encodeURIComponent(handler) : "") +
    (prefix ? "&prefix=" + encodeURIComponent(prefix) : "");
  const form = document.getElementById("filter");
  form.handler.value = handler;
  form.prefix.value = prefix;
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const f = new URLSearchParams();
    if (form.handler.value) f.set("handler", form.handler.value);
    if (form.prefix.value) f.set("prefix", form.prefix.value);
    location.hash = jobsHref(queue, state) + (f.toString() ? "?" + f : "");
  };
  const page = await api(q);
  document.getElementById("list-title").textContent =
    queue + ": " + state + (cursors.length > 1 ? " (page " + cursors.length + ")" : "");
  document.getElementById("list-time").textContent =
    { delayed: "due", active: "lease until", dead: "died" }[state] || "finished";
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren();
  for (const j of page.jobs) {
    const tr = document.createElement("tr");
    const id = cell("");
    id.append(link(j.id, jobHref(queue, j.id)));
    tr.append(id, cell(when(j.time_ms)), cell(j.handler),
      num(j.attempts), cell(j.status || state),
      cell(j.last_error || j.error || "", "err"));
    body.append(tr);
  }
  if (page.jobs.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("none", "muted");
    td.colSpan = 6;
    tr.append(td);
    body.append(tr);
  }
  const next = document.getElementById("next");
  next.disabled = !page.next;
  next.onclick = () => { cursors.push(page.next); route(); };
  const first = document.getElementById("first");
  first.disabled = cursors.length <= 1;
  first.onclick = () => { cursors = [""]; route(); };
  const qs = "?queue=" + encodeURIComponent(queue);
  actions(document.getElementById("list-actions"), state !== "dead" ||
    page.jobs.length === 0 ? [] : [
    ["retry all", "/api/retry_all" + qs, "Retry the oldest 1,000 dead jobs of " +
      queue + " now?"],
    ["delete all", "/api/delete_all" + qs, "Delete up to 1,000 dead jobs of " +
      queue + "? They are gone for good."]]);
  return page.jobs.length + " job(s) on this page";
}

// A payload or result: pretty-printed when it is JSON, as it is otherwise.
function pre(text) {
  const p = document.createElement("pre");
  try {
    const v = JSON.parse(text);
    p.textContent = typeof v === "object" && v !== null ?
      JSON.stringify(v, null, 2) : text;
  } catch (e) {
    p.textContent = text;
  }
  return p;
}

async function showJob(queue, id) {
  const j = await api("/api/job?queue=" + encodeURIComponent(queue) +
    "&id=" + encodeURIComponent(id));
  document.getElementById("job-title").textContent = "job " + j.id;
  document.getElementById("job-back").href = LISTS.includes(j.state) ?
    jobsHref(queue, j.state) : "#/";
  const qs = "?queue=" + encodeURIComponent(queue) + "&id=" + encodeURIComponent(id);
  actions(document.getElementById("job-actions"),
    j.state === "dead" ? [["retry now", "/api/retry" + qs, null],
      ["delete", "/api/delete" + qs, "Delete job " + id + "? It is gone for good."]] :
    j.state === "delayed" ? [["cancel", "/api/cancel" + qs, "Cancel job " + id + "?"]] :
    []);
  const t = j.due_ms || j.deadline_ms || j.died_ms;
  fillList(document.getElementById("job-state"), [["queue", j.queue],
    ["state", j.state], ["time", t ? when(t) : "–"]].concat(
    j.resource_fence !== undefined ?
      [["resource fence", j.resource_fence + " (the lock's latest fencing token)"]] : []));
  const f = j.fields || {};
  fillList(document.getElementById("job-fields"), Object.keys(f).map((k) =>
    [k, k === "payload" ? pre(f[k] + (j.payload_cut ? "\n… (cut at 64 KiB)" : "")) :
      /_ms$/.test(k) && /^\d+$/.test(f[k]) ? f[k] + " (" + when(Number(f[k])) + ")" :
        f[k]]));
  document.getElementById("job-result-box").hidden = j.result === null;
  if (j.result !== null)
    document.getElementById("job-result").replaceChildren(pre(j.result).firstChild || "");
  const run = j.last_run;
  document.getElementById("job-run-box").hidden = !run;
  if (run)
    fillList(document.getElementById("job-run"), Object.keys(run).map((k) =>
      [k, /_ms$/.test(k) && k !== "duration_ms" ? when(run[k]) : run[k]]));
  return "job " + j.state;
}

// One live event as a row: what happened to which job, and why.
function eventRow(e) {
  const tr = document.createElement("tr");
  const job = cell("");
  if (e.queue && e.id) job.append(link(e.id, jobHref(e.queue, e.id)));
  else job.textContent = e.id || "–";
  const detail = e.error || (e.duration_ms !== undefined ? e.duration_ms + " ms" :
    e.late_ms !== undefined ? "late " + e.late_ms + " ms" :
    e.delay_ms !== undefined ? "in " + e.delay_ms + " ms" : "");
  tr.append(cell(e.ts_ms ? new Date(e.ts_ms).toLocaleTimeString() : "–"),
    cell(e.event, e.event === "dead" ? "bad" : e.event === "retry" ? "warn" : ""),
    cell(e.queue), job, cell(e.handler), cell(detail, e.error ? "err" : ""));
  return tr;
}

// The live view; with #/live?until=N it stops after N events (for a
// headless browser, which waits for the page to go quiet).
function showLive(filters) {
  if (events) return "live";
  const body = document.querySelector("#events tbody");
  const until = Number(filters.get("until")) || 0;
  let seen = 0;
  events = new EventSource("/api/events");
  events.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (x) { return; }
    body.prepend(eventRow(e));
    while (body.rows.length > LIVE_ROWS) body.deleteRow(-1);
    if (until > 0 && ++seen >= until) {
      events.close();
      setStatus("live: stopped after " + seen + " event(s)", false);
    }
  };
  events.onerror = () => setStatus("live: reconnecting…", true);
  events.onopen = () => setStatus("live", false);
  return "live";
}

// Show the page the fragment names; the overview and lists refresh.
async function route() {
  if (session === null) {
    try { session = await api("/api/session"); } catch (e) { /* retried */ }
  }
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map(decodeURIComponent);
  const filters = new URLSearchParams(query || "");
  const view = parts[0] === "jobs" && parts.length === 3 && LISTS.includes(parts[2]) ?
    "list" : parts[0] === "job" && parts.length === 3 ? "job" :
    parts[0] === "live" ? "live" : "overview";
  for (const v of ["overview", "list", "job", "live"])
    document.getElementById(v).hidden = v !== view;
  clearTimeout(timer);
  if (view !== "live" && events) {
    events.close();
    events = null;
  }
  try {
    const done = view === "list" ? await showList(parts[1], parts[2], filters) :
      view === "job" ? await showJob(parts[1], parts[2]) :
      view === "live" ? showLive(filters) : await showOverview();
    setStatus(done, false);
  } catch (e) {
    setStatus("cannot read the API: " + e.message, true);
  }
  if (view === "overview" || (view === "list" && cursors.length <= 1))
    timer = setTimeout(route, REFRESH_MS);
}

window.addEventListener("hashchange", () => { cursors = [""]; route(); });
cursors = [""];
route();
