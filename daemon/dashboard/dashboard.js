// The overview page: /api/overview every 5 s, rendered with textContent
// only, so whatever a job, a queue or a daemon summary holds shows as text.
"use strict";

const REFRESH_MS = 5000;

// A table cell holding text (class cls when given).
function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "–" : String(text);
  if (cls) td.className = cls;
  return td;
}

// A number cell; warn or bad when the value asks for attention.
function num(v, level) {
  return cell(v === undefined || v === null ? "–" : v.toLocaleString(),
    "n" + (level && v > 0 ? " " + level : ""));
}

// How long ago ms (epoch) was, for people.
function ago(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

function renderQueues(body, queues) {
  body.replaceChildren();
  for (const q of queues) {
    const tr = document.createElement("tr");
    tr.append(cell(q.name), num(q.delayed), num(q.due, "warn"),
      num(q.active), num(q.dead, "bad"), num(q.done), num(q.failed, "bad"));
    tr.append(cell(q.paused ? "paused" : "running", q.paused ? "warn" : "ok"));
    body.append(tr);
  }
}

function renderDaemons(body, daemons, now) {
  body.replaceChildren();
  if (daemons.length === 0) {
    const tr = document.createElement("tr");
    const td = cell("no daemon ran jobs in the last minute", "muted");
    td.colSpan = 8;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const d of daemons) {
    const tr = document.createElement("tr");
    const st = d.start_lateness_ms || {};
    tr.append(cell(d.daemon), cell(d.version),
      cell((d.running ?? "–") + " / " + (d.concurrency ?? "–"), "n"),
      num(d.claimed), num(st.p50), num(st.p99), num(st.max),
      cell(d.ts_ms ? ago(d.ts_ms, now) : "–", "muted"));
    body.append(tr);
  }
}

function renderRedis(dl, r) {
  dl.replaceChildren();
  const rows = [["version", r.version], ["memory used", r.used_memory_human],
    ["clients", r.connected_clients]];
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v === undefined || v === null ? "–" : String(v);
    dl.append(dt, dd);
  }
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const res = await fetch("/api/overview", { credentials: "same-origin",
      cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const o = await res.json();
    document.getElementById("ns").textContent = "namespace " + o.namespace;
    renderQueues(document.querySelector("#queues tbody"), o.queues);
    renderDaemons(document.querySelector("#daemons tbody"), o.daemons,
      o.time_ms);
    renderRedis(document.getElementById("redis"), o.redis || {});
    status.textContent = "updated " + new Date(o.time_ms).toLocaleTimeString();
    status.className = "status";
  } catch (e) {
    status.textContent = "cannot read /api/overview: " + e.message;
    status.className = "status bad";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
