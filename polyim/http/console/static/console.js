// polyim web console: plain JavaScript, no library, everything from this server's admin API.
// The admin token is typed once into the login form and sent to /console/login only; afterwards the
// browser holds an HttpOnly session cookie and this script holds the session's CSRF token (in memory),
// which every API call carries in X-CSRF-Token.
"use strict";

const PAGE = 50; // rows per page of every list
const POLL_MS = 2000; // the overview and the open list refresh themselves this often
const state = { csrf: "", tab: "overview", timer: 0, sessions: 0, users: 0, groups: 0, room: null, roomPage: 0 };

const $ = (id) => document.getElementById(id);

// -- DOM helpers: text only (names come from users), never HTML ---------------------------------------
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function button(label, onclick, cls) {
  return el("button", { type: "button", className: "small " + (cls || ""), onclick }, label);
}

function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
}

function row(cells, actions) {
  const tr = el("tr", {}, ...cells.map((c) => el("td", {}, c)));
  if (actions) tr.append(el("td", { className: "actions" }, ...actions));
  return tr;
}

function status(text, isError) {
  const line = $("status");
  line.textContent = text;
  line.className = isError ? "error" : "";
}

// -- the API --------------------------------------------------------------------------------------------
class LoggedOut extends Error {}

async function api(method, path, body) {
  const init = { method, headers: { "X-CSRF-Token": state.csrf }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const data = await resp.json().catch(() => ({}));
  if (resp.status === 401) {
    showLogin("Your console session ended; log in again.");
    throw new LoggedOut();
  }
  if (!resp.ok) throw new Error(data.message || data.errmsg || resp.statusText);
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== undefined) q.set(k, v);
  return q.toString();
}

// -- login ----------------------------------------------------------------------------------------------
function showLogin(message) {
  clearInterval(state.timer);
  state.csrf = "";
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("token").focus();
}

function showApp(csrf) {
  state.csrf = csrf;
  $("login").hidden = true;
  $("app").hidden = false;
  switchTab(state.tab);
}

async function login(event) {
  event.preventDefault();
  const resp = await fetch("/console/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: $("token").value }),
  });
  $("token").value = "";
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    $("login-error").textContent = data.message || "login refused";
    return;
  }
  showApp(data.csrf);
}

async function logout() {
  await api("POST", "/console/logout").catch(() => {});
  showLogin("Logged out.");
}

// -- tabs and polling -----------------------------------------------------------------------------------
const loaders = {
  overview: loadOverview,
  sessions: loadSessions,
  rooms: loadRooms,
  users: loadUsers,
  groups: loadGroups,
};

function switchTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== "tab-" + name;
  clearInterval(state.timer);
  refresh();
  // lists a confirmation or a search may be editing are not redrawn under the operator's hands
  if (name === "overview" || name === "sessions" || name === "rooms") state.timer = setInterval(refresh, POLL_MS);
}

async function refresh() {
  if ($("confirm").open) return;
  try {
    await loaders[state.tab]();
  } catch (err) {
    if (!(err instanceof LoggedOut)) status(err.message, true);
  }
}

function pager(id, total, offset, go) {
  const last = Math.min(offset + PAGE, total);
  const prev = button("‹ Previous", () => go(Math.max(0, offset - PAGE)), "quiet");
  const next = button("Next ›", () => go(offset + PAGE), "quiet");
  prev.disabled = offset === 0;
  next.disabled = last >= total;
  $(id).replaceChildren(el("span", {}, total ? `${offset + 1}–${last} of ${total}` : "none"), prev, next);
}

// -- confirmations --------------------------------------------------------------------------------------
// Every action asks first. With `input`, the operator types the text to push; resolves to the text
// (or "" without input) when confirmed, to null when cancelled.
function confirmAction(title, text, input) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  const area = $("confirm-input");
  area.hidden = !input;
  area.value = "";
  area.placeholder = input || "";
  $("confirm-ok").textContent = input ? "Send" : "Confirm";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" && (!input || area.value) ? area.value : null),
      { once: true },
    );
    dialog.showModal();
    if (input) area.focus();
  });
}

async function act(title, text, run, input) {
  const value = await confirmAction(title, text, input);
  if (value === null) return;
  try {
    status(await run(value));
    await refresh();
  } catch (err) {
    if (!(err instanceof LoggedOut)) status(err.message, true);
  }
}

const kick = (s) =>
  act("Kick session", `End session ${s.sid} of user ${s.uid} (${s.protocol}, node ${s.node})?`, async () => {
    await api("DELETE", `/api/v1/sessions/${s.sid}`);
    return `Session ${s.sid} kicked.`;
  });

const setDisabled = (u, disabled) =>
  act(
    disabled ? "Disable user" : "Enable user",
    disabled ? `Disable ${u.username} (${u.uid})? Their sessions are kicked in every protocol.` : `Enable ${u.username} (${u.uid})?`,
    async () => {
      await api("POST", `/api/v1/users/${u.uid}/disable`, { disabled });
      return `${u.username} ${disabled ? "disabled" : "enabled"}.`;
    },
  );

const pushUser = (uid, name) =>
  act("Push to user", `Push a message to ${name} (${uid}) in every protocol:`, async (text) => {
    const r = await api("POST", "/api/v1/push/user", { uid, text });
    return `Pushed to ${name}: ${r.online} session(s) online got it.`;
  }, "message");

const pushRoom = (rid) =>
  act("Push to room", `Push a message to everyone in room ${rid}:`, async (text) => {
    const r = await api("POST", "/api/v1/push/room", { rid, text });
    return `Pushed to room ${rid} (${r.online} session(s) inside).`;
  }, "message");

const dismissRoom = (rid) =>
  act("Dismiss room", `Dismiss room ${rid}? Everyone inside is told and removed; the room id stays dead.`, async () => {
    await api("DELETE", `/api/v1/rooms/${rid}`);
    if (state.room === rid) $("members-card").hidden = true;
    return `Room ${rid} dismissed.`;
  });

const dismissGroup = (g) =>
  act("Dismiss group", `Dismiss group ${g.name} (${g.gid})? Its members are told.`, async () => {
    await api("DELETE", `/api/v1/groups/${g.gid}`);
    $("group-card").hidden = true;
    return `Group ${g.gid} dismissed.`;
  });

// -- overview -------------------------------------------------------------------------------------------
async function loadOverview() {
  const s = await api("GET", "/api/v1/stats");
  $("node-label").textContent = `node ${s.node}`;
  $("stat-sessions").textContent = s.sessions;
  $("stat-users").textContent = s.users_online;
  $("stat-rooms").textContent = s.rooms;
  const rates = s.rates.messages;
  $("stat-rate").textContent = rates.length ? rates[rates.length - 1] : 0;
  fill("nodes-table", s.nodes.map((n) => row([n.node, n.protocol, n.connections, n.sessions])));
  drawChart(s.rates);
}

const SERIES_COLORS = { messages: "#2f6fde", deliveries: "#e0862f" };

const WINDOW_S = 600; // the chart shows at most the last ten minutes (what the server keeps)

// A line chart of every series in `rates` (per-second values, one per sample) over the last minutes
// the server has sampled (one at least, WINDOW_S at most), drawn on the canvas; the newest sample is
// at the right edge.
function drawChart(rates) {
  const canvas = $("chart");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const names = Object.keys(rates).filter((k) => Array.isArray(rates[k]) && k !== "t_ms");
  const times = rates.t_ms;
  const end = times.length ? times[times.length - 1] : 0;
  const span = times.length ? (end - times[0]) / 1000 : 0;
  const window_s = Math.min(WINDOW_S, Math.max(60, Math.ceil(span / 60) * 60));
  const top = Math.max(1, ...names.flatMap((n) => rates[n]));
  const pad = { left: 44, right: 10, top: 10, bottom: 22 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const x = (t) => pad.left + w - ((end - t) / 1000 / window_s) * w;
  const y = (v) => pad.top + h - (v / top) * h;
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#6b7485";
  g.strokeStyle = "#dde2ea";
  g.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    g.beginPath();
    g.moveTo(pad.left, y(v));
    g.lineTo(width - pad.right, y(v));
    g.stroke();
    g.fillText(v >= 10 ? Math.round(v) : v.toFixed(1), 4, y(v) + 4);
  }
  for (let k = 5; k >= 0; k--) {
    const ago = (window_s * k) / 5;
    const label = !k ? "now" : ago < 60 ? `-${ago} s` : `-${ago / 60} min`;
    g.fillText(label, Math.min(x(end - ago * 1000), width - pad.right - 24), height - 6);
  }
  const legend = [];
  for (const name of names) {
    g.strokeStyle = SERIES_COLORS[name] || "#444";
    g.lineWidth = 2;
    g.beginPath();
    rates[name].forEach((v, i) => (i ? g.lineTo(x(times[i]), y(v)) : g.moveTo(x(times[i]), y(v))));
    g.stroke();
    const last = rates[name].length ? rates[name][rates[name].length - 1] : 0;
    legend.push(el("span", { className: name }, `■ ${name}/s: ${last}`));
  }
  $("chart-legend").replaceChildren(...legend);
}

// -- sessions -------------------------------------------------------------------------------------------
async function loadSessions() {
  const uid = $("sessions-uid").value.trim();
  const data = await api("GET", "/api/v1/sessions?" + query({ uid, offset: state.sessions, limit: PAGE }));
  fill(
    "sessions-table",
    data.sessions.map((s) =>
      row([s.sid, s.uid, s.protocol, s.node, s.device_id || "–", s.peer || "–"], [button("Kick", () => kick(s), "danger")]),
    ),
  );
  pager("sessions-pager", data.total, data.offset, (offset) => {
    state.sessions = offset;
    refresh();
  });
}

// -- rooms ----------------------------------------------------------------------------------------------
async function loadRooms() {
  const data = await api("GET", "/api/v1/rooms?top=" + PAGE);
  fill(
    "rooms-table",
    data.rooms.map((r) =>
      row(
        [r.rid, r.sessions],
        [
          button("Members", () => showRoom(r.rid, 0), "quiet"),
          button("Push", () => pushRoom(r.rid)),
          button("Dismiss", () => dismissRoom(r.rid), "danger"),
        ],
      ),
    ),
  );
  if (state.room !== null) await showRoom(state.room, state.roomPage);
}

async function showRoom(rid, offset) {
  const room = await api("GET", `/api/v1/rooms/${rid}`);
  state.room = rid;
  state.roomPage = offset;
  $("members-card").hidden = false;
  const name = room.name ? ` “${room.name}”` : "";
  $("members-title").textContent = `Room ${rid}${name}: ${room.sessions} session(s) on every node; members here`;
  const page = room.members.slice(offset, offset + PAGE);
  fill("members-table", page.map((m) => row([m.uid, m.protocol, m.sid])));
  pager("members-pager", room.members.length, offset, (o) => showRoom(rid, o));
}

// -- users ----------------------------------------------------------------------------------------------
async function loadUsers() {
  const q = $("users-query").value.trim();
  const data = await api("GET", "/api/v1/users?" + query({ q, offset: state.users, limit: PAGE }));
  fill(
    "users-table",
    data.users.map((u) =>
      row(
        [u.uid, u.username, u.nickname, el("span", { className: u.disabled ? "badge off" : "badge" }, u.disabled ? "disabled" : "active")],
        [
          button("Push", () => pushUser(u.uid, u.username)),
          u.disabled ? button("Enable", () => setDisabled(u, false), "quiet") : button("Disable", () => setDisabled(u, true), "danger"),
        ],
      ),
    ),
  );
  pager("users-pager", data.total, data.offset, (offset) => {
    state.users = offset;
    refresh();
  });
}

// -- groups ---------------------------------------------------------------------------------------------
async function loadGroups() {
  const q = $("groups-query").value.trim();
  const data = await api("GET", "/api/v1/groups?" + query({ q, offset: state.groups, limit: PAGE }));
  fill(
    "groups-table",
    data.groups.map((g) =>
      row([g.gid, g.name, g.owner], [button("Members", () => showGroup(g.gid), "quiet"), button("Dismiss", () => dismissGroup(g), "danger")]),
    ),
  );
  pager("groups-pager", data.total, data.offset, (offset) => {
    state.groups = offset;
    refresh();
  });
}

async function showGroup(gid) {
  const g = await api("GET", `/api/v1/groups/${gid}`);
  $("group-card").hidden = false;
  $("group-title").textContent = `Group ${g.gid} “${g.name}”: ${g.members.length} member(s)`;
  fill("group-members", g.members.map((m) => row([m.uid, m.role, m.muted ? "yes" : "no"])));
}

// -- start ----------------------------------------------------------------------------------------------
function searchForm(formId, key) {
  $(formId).addEventListener("submit", (event) => {
    event.preventDefault();
    state[key] = 0;
    refresh();
  });
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  searchForm("sessions-form", "sessions");
  searchForm("users-form", "users");
  searchForm("groups-form", "groups");
  const resp = await fetch("/console/session", { credentials: "same-origin" });
  if (resp.ok) showApp((await resp.json()).csrf);
  else showLogin();
});
