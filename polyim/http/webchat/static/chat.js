// polyim's web chat page: one more beehive client (beehive.md), over the WebSocket gateway.
//
// Log in: POST /chat/api/login (username → uid), GET /im/register (a sid for this browser, kept in
// localStorage), POST /im/iplist (the token and the gateway's address), then ONLINE on ws://<gateway>/im.
// A reconnect asks /im/iplist again with the token as the password (a token is a valid secret there),
// so a restarted server or a moved gateway is found again without the password.
//
// Nothing is lost or shown twice across a reconnect:
// * every message is keyed by its conversation seq (the header seq of CHAT / GROUP-CHAT / ROOM-CHAT);
//   a frame or history entry already shown is dropped;
// * sends are kept until their ACK and sent again with the same header seq after a reconnect: the
//   server answers a (sid, seq) it already stored with the first ACK and stores nothing (beehive.md §2.4);
// * the page acknowledges every 1:1 CHAT (CHAT-ACK, header seq = conversation seq), SYNC replays what
//   was not acknowledged, and /chat/api/history fills what a dropped socket swallowed (a group's
//   delivered cursor moves when the server writes, not when the page reads);
// * the page's own sends carry no conversation seq in their ACK; history names them by (sid, header
//   seq), and they are merged by that.

import * as B from "./beehive.js";

const C = B.CMD;
const APP = "polyim web chat";
const VERSION = "1.0";
const PING_EVERY_MS = 60000;
const PONG_WITHIN_MS = 15000;
const READ_DELAY_MS = 300;
const $ = (id) => document.getElementById(id);

const state = {
  me: null, // {uid, username} — ids are decimal strings throughout
  sid: null, // BigInt
  token: null,
  ws: null,
  online: false,
  loggedOut: true,
  counter: 0n, // the last header seq this page used
  attempt: 0, // reconnect attempts since the last ONLINE-ACK
  convs: new Map(), // "p:<uid>" | "g:<gid>" | "r:<rid>" → conversation
  current: null,
  readPending: null, // the conversation whose read cursor is about to be sent
  pending: new Map(), // header seq (string) → an unacknowledged send
  waiters: new Map(), // "<type>:<seq>" → resolve, for requests answered by a frame of that type
  names: new Map(), // uid → username
  online_users: new Set(),
  rooms: new Set(), // rids this page is in (joined again after a reconnect)
  timers: {},
};

// == small helpers ========================================================================================
function showError(text) {
  $("error-text").textContent = text;
  $("error").hidden = false;
}

function nowSeconds() {
  return BigInt(Math.floor(Date.now() / 1000));
}

function nextSeq() {
  state.counter += 1n;
  return state.counter;
}

function storageKey(name) {
  return `polyim.chat.${name}`;
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || (options.json !== undefined ? "POST" : "GET"),
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
    keepalive: Boolean(options.keepalive),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.message || `HTTP ${response.status}`), { status: response.status });
  return body;
}

function form(values) {
  return new URLSearchParams(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

// == conversations and messages ===========================================================================
function conv(key, name) {
  let c = state.convs.get(key);
  if (!c) {
    const [kind, id] = key.split(":");
    c = { key, kind, id, name: name || "", messages: new Map(), byClient: new Map(), unread: 0,
      loaded: false, contiguous: 0, first: 0, lastSeq: 0, activity: 0, closed: false };
    state.convs.set(key, c);
  }
  if (name) c.name = name;
  return c;
}

function convName(c) {
  if (c.name) return c.name;
  if (c.kind === "p") return state.names.get(c.id) || `user ${c.id}`;
  return `${c.kind === "g" ? "group" : "room"} ${c.id}`;
}

// A stored message (one with a conversation seq). Returns false when it was already shown.
function addMessage(c, m) {
  const key = `s:${m.seq}`;
  if (c.messages.has(key)) return false;
  if (m.sender === state.me.uid && m.device === String(state.sid) && c.byClient.has(m.client_id)) {
    c.messages.delete(c.byClient.get(m.client_id)); // the send shown before its seq was known
    c.byClient.delete(m.client_id);
  }
  const own = m.sender === state.me.uid;
  c.messages.set(key, { key, seq: m.seq, sender: m.sender, text: m.text, ts: m.ts_ms, own, meta: own ? "sent" : "" });
  c.lastSeq = Math.max(c.lastSeq, m.seq);
  while (c.messages.has(`s:${c.contiguous + 1}`)) c.contiguous += 1;
  learnNames([m.sender]);
  return true;
}

function note(c, text) {
  const key = `n:${c.messages.size}:${Date.now()}`;
  c.messages.set(key, { key, note: text, ts: Date.now() });
}

// A message from the socket: shown, counted as unread unless it is read now, and acknowledged.
function received(key, seq, sender, text) {
  const c = conv(key);
  const fresh = addMessage(c, { seq, sender, text, ts_ms: Date.now(), device: "", client_id: "" });
  if (fresh) c.activity = Date.now();
  if (fresh && sender !== state.me.uid) {
    if (c === currentConv() && document.visibilityState === "visible") scheduleRead(c);
    else c.unread += 1;
  }
  render();
}

function currentConv() {
  return state.current ? state.convs.get(state.current) : null;
}

async function loadHistory(c, params) {
  if (c.kind === "r") return null; // rooms keep no history for their visitors
  const query = new URLSearchParams({ conv: c.key, ...params });
  const page = await api(`/chat/api/history?${query}`);
  for (const m of page.messages) addMessage(c, m);
  return page;
}

async function openHistory(c) {
  const page = await loadHistory(c, {});
  if (page) {
    c.loaded = true;
    c.first = page.first;
    c.contiguous = Math.max(c.contiguous, page.upto);
    while (c.messages.has(`s:${c.contiguous + 1}`)) c.contiguous += 1;
  }
}

async function fillGap(c) {
  for (;;) {
    const page = await loadHistory(c, { after: c.contiguous, count: 200 });
    if (!page || page.upto <= c.contiguous) return;
    c.contiguous = page.upto;
    while (c.messages.has(`s:${c.contiguous + 1}`)) c.contiguous += 1;
  }
}

async function refreshConversations() {
  const { conversations } = await api("/chat/api/conversations");
  for (const entry of conversations) {
    const c = conv(entry.conv, entry.name);
    c.closed = false;
    c.lastSeq = Math.max(c.lastSeq, entry.last_seq);
    c.activity = Math.max(c.activity, entry.activity_ms);
    c.unread = c === currentConv() ? 0 : entry.unread;
    if (c.loaded && entry.last_seq > c.contiguous) await fillGap(c);
    if (c === currentConv() && entry.unread) scheduleRead(c);
  }
  render();
}

// The read cursor, a moment after the user has seen a conversation (one request for a burst).
function scheduleRead(c) {
  if (c.kind === "r") return;
  flushRead();
  state.readPending = c;
  state.timers.read = setTimeout(flushRead, READ_DELAY_MS);
}

function flushRead() {
  clearTimeout(state.timers.read);
  const c = state.readPending;
  state.readPending = null;
  if (!c || !state.token) return;
  const seq = Math.max(c.lastSeq, c.contiguous);
  api("/chat/api/read", { json: { conv: c.key, seq }, keepalive: true }).catch(() => {});
}

const unknownNames = new Set();
function learnNames(uids) {
  for (const uid of uids) if (uid !== "0" && !state.names.has(uid)) unknownNames.add(uid);
  if (!unknownNames.size || state.timers.names) return;
  state.timers.names = setTimeout(async () => {
    state.timers.names = null;
    const asked = [...unknownNames];
    unknownNames.clear();
    const query = new URLSearchParams(asked.map((uid) => ["uid", uid]));
    try {
      const { users } = await api(`/chat/api/users?${query}`);
      for (const u of users) state.names.set(u.uid, u.username);
      for (const uid of asked) if (!state.names.has(uid)) state.names.set(uid, `user ${uid}`);
      render();
    } catch {
      for (const uid of asked) unknownNames.add(uid); // asked again with the next name
    }
  }, 50);
}

// == the socket ===========================================================================================
function send(type, values, seq = nextSeq()) {
  if (state.online || type === C.ONLINE) state.ws.send(B.frame(type, state.sid, seq, values));
  return seq;
}

// A request answered by a frame of ``answer`` (its ACK by default) with the request's seq.
function request(type, values, answer = type + 1) {
  if (!state.online) return Promise.reject(new Error("not connected; try again in a moment"));
  const seq = nextSeq();
  const reply = new Promise((resolve) => state.waiters.set(`${answer}:${seq}`, resolve));
  send(type, values, seq);
  return reply;
}

function connect(gateway) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${gateway}/im`, ["im"]);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  setStatus("connecting");
  ws.onopen = () => {
    // ONLINE with seq 1: the floor becomes the highest seq this sid has stored (or 100), so a resend
    // of a stored message is answered from the store and a new one continues above it (§2.4)
    ws.send(B.frame(C.ONLINE, state.sid, 1n, {
      uid: BigInt(state.me.uid), sid: state.sid, token: state.token, app: APP, version: VERSION,
    }));
  };
  ws.onmessage = (event) => {
    if (ws !== state.ws) return;
    try {
      const { header, body } = B.decodeFrame(new Uint8Array(event.data));
      dispatch(header, B.bodyOf(header.type, body));
    } catch (error) {
      showError(`Bad frame from the server: ${error.message}`);
    }
  };
  ws.onclose = () => {
    if (ws === state.ws) disconnected();
  };
}

function disconnected() {
  // a resend the server closed the connection for was not stored after all (it was refused and its
  // ACK lost): sending it again would close the next connection too
  for (const [seq, p] of state.pending) {
    if (p.resentOn && p.resentOn === state.ws) {
      state.pending.delete(seq);
      const shown = conv(p.conv).messages.get(p.key);
      if (shown) Object.assign(shown, { failed: true, meta: "not sent" });
    }
  }
  state.online = false;
  state.ws = null;
  clearInterval(state.timers.ping);
  clearTimeout(state.timers.pong);
  for (const resolve of state.waiters.values()) resolve(null);
  state.waiters.clear();
  if (state.loggedOut) return;
  const delay = Math.min(10000, 500 * 2 ** state.attempt);
  state.attempt += 1;
  setStatus("offline", `reconnecting in ${Math.round(delay / 1000)} s`);
  state.timers.reconnect = setTimeout(reconnect, delay);
}

async function reconnect() {
  if (state.loggedOut) return;
  try {
    const gateway = await iplist(state.token);
    connect(gateway);
  } catch (error) {
    if (error.auth) return logout(`Please log in again (${error.message}).`);
    disconnected();
  }
}

async function iplist(password) {
  const answer = await fetch("/im/iplist", {
    method: "POST",
    body: form({ type: 2, uid: state.me.uid, sid: state.sid, password }),
  }).then((r) => r.json());
  if (answer.code !== 0) {
    throw Object.assign(new Error(answer.errmsg), { auth: [20008, 10013, 20009].includes(answer.code) });
  }
  state.token = answer.token;
  sessionStorage.setItem(storageKey("session"), JSON.stringify({ me: state.me, token: state.token }));
  return answer.list[0];
}

function online(header, body) {
  if (body.code !== 0) {
    state.ws.onclose = null;
    state.ws.close();
    state.ws = null;
    logout(`The server refused the login: ${body.errmsg}`);
    return;
  }
  state.online = true;
  setStatus("online");
  // The floor is the highest seq this sid has stored (or 100). A send at or below it was stored: sent
  // again with its seq, it is answered with its first ACK. One above it never arrived: it gets a new seq.
  state.counter = body.seq;
  const again = [...state.pending].filter(([seq]) => BigInt(seq) <= body.seq);
  const fresh = [...state.pending].filter(([seq]) => BigInt(seq) > body.seq);
  for (const [seq, p] of again) {
    p.resentOn = state.ws;
    send(p.type, p.values, BigInt(seq));
  }
  for (const rid of state.rooms) send(C.ROOM_JOIN, { uid: BigInt(state.me.uid), rid: BigInt(rid) });
  for (const [old, p] of fresh) {
    const seq = nextSeq();
    state.pending.delete(old);
    state.pending.set(String(seq), p);
    const c = conv(p.conv);
    c.byClient.delete(old);
    c.byClient.set(String(seq), p.key);
    send(p.type, p.values, seq);
  }
  send(C.SYNC, { uid: BigInt(state.me.uid) });
  state.timers.ping = setInterval(ping, PING_EVERY_MS);
}

function ping() {
  send(C.PING);
  state.timers.pong = setTimeout(() => state.ws && state.ws.close(), PONG_WITHIN_MS);
}

function acked(header, body) {
  const p = state.pending.get(String(header.seq));
  if (!p) return;
  state.pending.delete(String(header.seq));
  const c = conv(p.conv);
  const shown = c.messages.get(p.key);
  if (body.code !== 0) {
    if (shown) Object.assign(shown, { failed: true, meta: `not sent: ${body.errmsg}` });
    showError(`Message not sent: ${body.errmsg} (${body.code})`);
  } else if (shown) {
    shown.meta = "sent";
    if (c.loaded) fillGap(c).then(render).catch(() => {}); // its seq, from the history
  }
  render();
}

function dispatch(header, body) {
  const me = state.me.uid;
  const waiter = state.waiters.get(`${header.type}:${header.seq}`);
  if (waiter) {
    state.waiters.delete(`${header.type}:${header.seq}`);
    waiter({ header, body });
  }
  switch (header.type) {
    case C.ONLINE_ACK: return online(header, body);
    case C.SYNC_ACK:
      state.attempt = 0; // a connection that worked: the next drop is retried at once
      return refreshConversations().catch((e) => showError(`Could not load conversations: ${e.message}`));
    case C.PONG: return clearTimeout(state.timers.pong);
    case C.KICK: return logout(`Signed out by the server: ${body.errmsg}`);
    case C.ERROR: return showError(`Server error ${body.code}: ${body.errmsg}`);
    case C.CHAT_ACK: case C.GROUP_CHAT_ACK: case C.ROOM_CHAT_ACK: return acked(header, body);
    case C.CHAT: {
      const sender = String(body.suid);
      const peer = sender === me ? String(body.duid) : sender;
      if (String(body.duid) === me) send(C.CHAT_ACK, { suid: body.suid, duid: body.duid, code: 0, errmsg: "Ok" }, header.seq);
      learnNames([peer]);
      return received(`p:${peer}`, Number(header.seq), sender, body.text);
    }
    case C.GROUP_CHAT: return received(`g:${body.gid}`, Number(header.seq), String(body.uid), body.text);
    case C.ROOM_CHAT: return roomChat(header, body);
    case C.GROUP_JOIN_NTF: return groupChange(body, "joined");
    case C.GROUP_QUIT_NTF: return groupChange(body, "left");
    case C.GROUP_KICK_NTF: case C.GROUP_BL_ADD_NTF: return groupChange(body, "was removed");
    case C.ROOM_JOIN_NTF: return roomChange(body, "joined");
    case C.ROOM_QUIT_NTF: return roomChange(body, "left");
    case C.ROOM_KICK_NTF: return roomChange(body, "was kicked");
    case C.ROOM_KICK: return roomChange(body, "was kicked");
    case C.ONLINE_NTF: state.online_users.add(String(body.uid)); return render();
    case C.OFFLINE_NTF: state.online_users.delete(String(body.uid)); return render();
    default: return undefined;
  }
}

function roomChat(header, body) {
  const key = `r:${body.rid}`;
  const sender = String(body.uid);
  const c = conv(key);
  if (sender === state.me.uid) {
    // the sender's own connection gets its room message back (before or after the ACK): it replaces
    // the line shown at send
    const line = [...c.messages.values()].find((m) => m.echo && m.text === body.text);
    if (line) {
      c.messages.delete(line.key);
      for (const [seq, p] of state.pending) if (p.key === line.key) state.pending.delete(seq);
    }
  }
  received(key, Number(header.seq), sender, body.text);
}

function groupChange(body, what) {
  const uid = String(body.uid);
  const c = conv(`g:${body.gid}`);
  if (uid === "0") {
    c.closed = true;
    note(c, "The group was dismissed.");
  } else {
    if (uid === state.me.uid) c.closed = what !== "joined";
    learnNames([uid]);
    note(c, `${uid === state.me.uid ? "You" : state.names.get(uid) || `user ${uid}`} ${what}.`);
  }
  if (!c.name) refreshConversations().catch(() => {}); // a group new to the page: its name
  render();
}

function roomChange(body, what) {
  const uid = String(body.uid);
  const c = conv(`r:${body.rid}`);
  if (uid === "0" || (uid === state.me.uid && what === "was kicked")) {
    c.closed = true;
    state.rooms.delete(c.id);
    saveRooms();
    note(c, uid === "0" ? "The room was dismissed." : "You were removed from the room.");
  } else {
    learnNames([uid]);
    note(c, `${uid === state.me.uid ? "You" : state.names.get(uid) || `user ${uid}`} ${what}.`);
  }
  render();
}

// == actions ==============================================================================================
function sendMessage(c, text) {
  const me = BigInt(state.me.uid);
  const id = BigInt(c.id);
  const time = nowSeconds();
  const [type, values] = {
    p: [C.CHAT, { suid: me, duid: id, level: 0, time, text }],
    g: [C.GROUP_CHAT, { uid: me, gid: id, level: 0, time, text }],
    r: [C.ROOM_CHAT, { uid: me, rid: id, gid: 0, level: 0, time, text }],
  }[c.kind];
  const seq = nextSeq();
  const key = `c:${seq}`;
  const echo = c.kind === "r";
  c.messages.set(key, { key, sender: state.me.uid, text, ts: Date.now(), own: true, meta: "sending…", echo });
  c.byClient.set(String(seq), key);
  c.activity = Date.now();
  state.pending.set(String(seq), { type, values, conv: c.key, key });
  send(type, values, seq);
  render();
}

function ok(reply, what) {
  if (!reply) throw new Error(`${what}: the connection dropped, try again`);
  if (reply.body.code) throw new Error(`${what}: ${reply.body.errmsg}`);
  return reply.body;
}

async function userByName(name) {
  const { users } = await api(`/chat/api/users?${new URLSearchParams({ name })}`);
  if (!users.length) throw new Error(`No user named ${name}`);
  state.names.set(users[0].uid, users[0].username);
  return users[0];
}

const ACTIONS = {
  "new-chat": async () => {
    const user = await userByName($("peer-name").value.trim());
    conv(`p:${user.uid}`, user.username);
    await select(`p:${user.uid}`);
  },
  "new-group": async () => {
    if (!state.online) throw new Error("not connected; try again in a moment");
    const me = BigInt(state.me.uid);
    const seq = nextSeq();
    const ntf = new Promise((resolve) => state.waiters.set(`${C.GROUP_JOIN_NTF}:${seq}`, resolve));
    const ack = new Promise((resolve) => state.waiters.set(`${C.GROUP_CREAT_ACK}:${seq}`, resolve));
    send(C.GROUP_CREAT, { uid: me, gid: 0n, name: $("group-name").value.trim(), desc: "" }, seq);
    ok(await ack, "Create group");
    const created = await ntf; // the gid arrives as GROUP-JOIN-NTF with the request's seq (§4.3)
    const c = conv(`g:${created.body.gid}`, $("group-name").value.trim());
    c.loaded = true;
    await select(c.key);
  },
  "join-group": async () => {
    const gid = $("group-id").value.trim();
    ok(await request(C.GROUP_JOIN, { uid: BigInt(state.me.uid), gid: BigInt(gid) }), "Join group");
    await refreshConversations();
    await select(`g:${gid}`);
  },
  "new-room": async () => {
    const me = BigInt(state.me.uid);
    const created = ok(await request(C.ROOM_CREAT, { uid: me, name: $("room-name").value.trim(), desc: "" }), "Create room");
    await joinRoom(String(created.rid), $("room-name").value.trim());
  },
  "join-room": async () => joinRoom($("room-id").value.trim()),
  invite: async () => {
    const c = currentConv();
    const user = await userByName($("invite-name").value.trim());
    const values = { uid: BigInt(state.me.uid), gid: BigInt(c.id), to: BigInt(user.uid) };
    ok(await request(C.GROUP_INVITE, values), "Invite");
  },
};

async function joinRoom(rid, name) {
  ok(await request(C.ROOM_JOIN, { uid: BigInt(state.me.uid), rid: BigInt(rid) }), "Join room");
  const c = conv(`r:${rid}`, name);
  c.closed = false;
  state.rooms.add(rid);
  saveRooms();
  await select(c.key);
}

function saveRooms() {
  localStorage.setItem(storageKey(`rooms.${state.me.uid}`), JSON.stringify([...state.rooms]));
}

async function leave() {
  const c = currentConv();
  const me = BigInt(state.me.uid);
  if (c.kind === "g") ok(await request(C.GROUP_QUIT, { uid: me, gid: BigInt(c.id) }), "Leave group");
  if (c.kind === "r") {
    ok(await request(C.ROOM_QUIT, { uid: me, rid: BigInt(c.id) }), "Leave room");
    state.rooms.delete(c.id);
    saveRooms();
  }
  c.closed = true;
  render();
}

async function select(key) {
  state.current = key;
  const c = currentConv();
  c.unread = 0;
  render();
  if (!c.loaded) await openHistory(c);
  scheduleRead(c);
  render();
  $("text").focus();
}

// == log in and out =======================================================================================
async function login(username, password) {
  const me = await api("/chat/api/login", { json: { username, password } });
  state.me = { uid: me.uid, username: me.username };
  state.names.set(me.uid, me.username);
  state.sid = await deviceSid();
  try {
    return await iplist(password);
  } catch (error) {
    if (!/Sid is collision/.test(error.message)) throw error;
    localStorage.removeItem(storageKey(`sid.${state.me.uid}`)); // a sid of another user: take a new one
    state.sid = await deviceSid();
    return iplist(password);
  }
}

// This browser's device id for the user: registered once and kept; where registration is off, a random
// one that /im/iplist binds to the user (§6.2).
async function deviceSid() {
  const kept = localStorage.getItem(storageKey(`sid.${state.me.uid}`));
  if (kept) return BigInt(kept);
  const answer = await fetch(`/im/register?${new URLSearchParams({ uid: state.me.uid })}`).then((r) => r.json());
  const random = () => BigInt(2 ** 40 + Math.floor(Math.random() * 2 ** 52));
  const sid = answer.code === 0 ? BigInt(answer.sid) : random();
  localStorage.setItem(storageKey(`sid.${state.me.uid}`), String(sid));
  return sid;
}

function start(gateway) {
  state.loggedOut = false;
  state.rooms = new Set(JSON.parse(localStorage.getItem(storageKey(`rooms.${state.me.uid}`)) || "[]"));
  for (const rid of state.rooms) conv(`r:${rid}`);
  $("login").hidden = true;
  $("app").hidden = false;
  $("me").textContent = state.me.username;
  connect(gateway);
  render();
}

function logout(message) {
  flushRead();
  if (state.online) send(C.OFFLINE);
  state.loggedOut = true;
  state.online = false;
  if (state.ws) state.ws.close();
  state.ws = null;
  clearInterval(state.timers.ping);
  clearTimeout(state.timers.reconnect);
  sessionStorage.removeItem(storageKey("session"));
  Object.assign(state, { token: null, current: null, convs: new Map(), pending: new Map(), online_users: new Set() });
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

// == rendering ============================================================================================
function setStatus(kind, text) {
  const status = $("status");
  status.className = `status ${kind}`;
  status.textContent = text || kind;
}

function render() {
  renderList();
  renderPane();
}

function renderList() {
  const list = $("convs");
  const convs = [...state.convs.values()].sort((a, b) => b.activity - a.activity || a.key.localeCompare(b.key));
  list.replaceChildren(...convs.map((c) => {
    const li = document.createElement("li");
    li.className = `conv${c.key === state.current ? " current" : ""}`;
    li.dataset.conv = c.key;
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = { p: "direct", g: "group", r: "room" }[c.kind];
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = convName(c);
    const dot = document.createElement("span");
    dot.className = `dot${c.kind === "p" && state.online_users.has(c.id) ? " on" : ""}`;
    li.append(kind, name, dot);
    if (c.unread) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = String(c.unread);
      li.append(badge);
    }
    li.onclick = () => select(c.key).catch((e) => showError(e.message));
    return li;
  }));
}

function ordered(c) {
  const all = [...c.messages.values()];
  const stored = all.filter((m) => m.seq !== undefined).sort((a, b) => a.seq - b.seq);
  const rest = all.filter((m) => m.seq === undefined).sort((a, b) => a.ts - b.ts);
  return [...stored, ...rest];
}

function renderPane() {
  const c = currentConv();
  $("title").textContent = c ? `${convName(c)}${c.closed ? " (closed)" : ""}` : "Pick a conversation";
  $("invite").hidden = !c || c.kind !== "g" || c.closed;
  $("leave").hidden = !c || c.kind === "p" || c.closed;
  $("older").hidden = !c || c.kind === "r" || !c.loaded || c.first <= 1;
  $("text").disabled = $("send").disabled = !c || c.closed;
  const pane = $("messages");
  if (!c) return pane.replaceChildren();
  const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
  pane.replaceChildren(...ordered(c).map((m) => {
    const li = document.createElement("li");
    if (m.note) {
      li.className = "note";
      li.textContent = m.note;
      return li;
    }
    li.className = `msg${m.own ? " own" : ""}${m.failed ? " failed" : ""}`;
    li.dataset.key = m.key;
    const from = document.createElement("div");
    from.className = "from";
    from.textContent = m.own ? "you" : state.names.get(m.sender) || `user ${m.sender}`;
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = m.text;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = [new Date(m.ts).toLocaleTimeString(), m.meta].filter(Boolean).join(" · ");
    li.append(from, text, meta);
    return li;
  }));
  if (atBottom) pane.scrollTop = pane.scrollHeight;
}

// == wiring ===============================================================================================
function wire() {
  $("error-close").onclick = () => { $("error").hidden = true; };
  $("login").onsubmit = async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    $("login-button").disabled = true;
    try {
      start(await login($("username").value.trim(), $("password").value));
      $("password").value = "";
    } catch (error) {
      $("login-error").textContent = error.message;
    } finally {
      $("login-button").disabled = false;
    }
  };
  $("logout").onclick = () => logout("");
  for (const [id, action] of Object.entries(ACTIONS)) {
    $(id).onsubmit = async (event) => {
      event.preventDefault();
      try {
        await action();
        event.target.reset();
      } catch (error) {
        showError(error.message);
      }
    };
  }
  $("leave").onclick = () => leave().catch((e) => showError(e.message));
  $("older").onclick = async () => {
    const c = currentConv();
    const page = await loadHistory(c, { before: c.first }).catch((e) => showError(e.message));
    if (page) c.first = page.first || 1;
    render();
  };
  $("composer").onsubmit = (event) => {
    event.preventDefault();
    const text = $("text").value;
    const c = currentConv();
    if (!c || !text.trim()) return;
    sendMessage(c, text);
    $("text").value = "";
  };
  $("text").onkeydown = (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  };
  document.addEventListener("visibilitychange", () => {
    const c = currentConv();
    if (c && document.visibilityState === "visible" && c.unread) {
      c.unread = 0;
      scheduleRead(c);
      render();
    }
  });
}

async function resume() {
  const kept = JSON.parse(sessionStorage.getItem(storageKey("session")) || "null");
  if (!kept) return logout("");
  state.me = kept.me;
  state.names.set(kept.me.uid, kept.me.username);
  state.sid = await deviceSid();
  try {
    start(await iplist(kept.token));
  } catch {
    logout("");
  }
}

// For the tests and for curious people: the state, and a way to cut the socket as a network drop would.
window.polyimChat = { state, beehive: B, dropSocket: () => state.ws && state.ws.close() };

wire();
resume();
