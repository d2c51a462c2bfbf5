// beehive's wire format for the web chat page, written from beehive.md §2 (the 52-byte header) and §3
// (proto2 bodies): only the messages the page sends or reads. Sans-I/O: bytes in, objects out.
//
// 64-bit fields (ids, seqs) are BigInt on both sides; 32-bit ones are Numbers. Encoders write every
// required field, zero values included, and optional fields only when set, in ascending field number;
// decoders skip unknown fields and refuse a body that lacks a required field (§3).

export const HEADER_SIZE = 52;

export const CMD = Object.freeze({
  ONLINE: 0x0101, ONLINE_ACK: 0x0102, OFFLINE: 0x0103, OFFLINE_ACK: 0x0104, PING: 0x0105, PONG: 0x0106,
  ERROR: 0x010b, ERROR_ACK: 0x010c, SYNC: 0x010d, SYNC_ACK: 0x010e, KICK: 0x0110,
  ONLINE_NTF: 0x0150, OFFLINE_NTF: 0x0152,
  CHAT: 0x0201, CHAT_ACK: 0x0202, FRIEND_ADD: 0x0203,
  GROUP_CREAT: 0x0301, GROUP_CREAT_ACK: 0x0302, GROUP_JOIN: 0x0305, GROUP_JOIN_ACK: 0x0306,
  GROUP_QUIT: 0x0307, GROUP_QUIT_ACK: 0x0308, GROUP_INVITE: 0x0309, GROUP_INVITE_ACK: 0x030a,
  GROUP_CHAT: 0x030b, GROUP_CHAT_ACK: 0x030c,
  GROUP_JOIN_NTF: 0x0350, GROUP_QUIT_NTF: 0x0352, GROUP_KICK_NTF: 0x0354, GROUP_BL_ADD_NTF: 0x0360,
  ROOM_CREAT: 0x0401, ROOM_CREAT_ACK: 0x0402, ROOM_JOIN: 0x0405, ROOM_JOIN_ACK: 0x0406,
  ROOM_QUIT: 0x0407, ROOM_QUIT_ACK: 0x0408, ROOM_KICK: 0x0409, ROOM_CHAT: 0x040b, ROOM_CHAT_ACK: 0x040c,
  ROOM_JOIN_NTF: 0x0450, ROOM_QUIT_NTF: 0x0452, ROOM_KICK_NTF: 0x0454,
});

// [field number, name, type, required]; types: u64 (BigInt), u32 (Number), str, bytes (Uint8Array)
const R = true, O = false;
const CODE = [[1, "code", "u32", R], [2, "errmsg", "str", R]];
const UID_GID = [[1, "uid", "u64", R], [2, "gid", "u64", R]];
const UID_RID = [[1, "uid", "u64", R], [2, "rid", "u64", R]];
const CHAT_BODY = [
  [1, "suid", "u64", R], [2, "duid", "u64", R], [3, "level", "u32", R], [4, "time", "u64", R],
  [5, "text", "str", R], [6, "data", "bytes", O],
];

export const SCHEMAS = Object.freeze({
  mesg_online: [[1, "uid", "u64", R], [2, "sid", "u64", R], [3, "token", "str", R], [4, "app", "str", R],
    [5, "version", "str", R], [6, "terminal", "u32", O]],
  mesg_online_ack: [[1, "uid", "u64", R], [2, "sid", "u64", R], [3, "seq", "u64", R], [4, "app", "str", R],
    [5, "version", "str", R], [6, "terminal", "u32", O], [7, "code", "u32", R], [8, "errmsg", "str", R]],
  mesg_error: CODE,
  mesg_kick: CODE,
  mesg_sync: [[1, "uid", "u64", R]],
  mesg_sync_ack: [[1, "uid", "u64", R], [2, "code", "u32", R], [3, "errmsg", "str", R]],
  mesg_online_ntf: [[1, "uid", "u64", R], [2, "status", "u32", O], [3, "terminal", "u32", O]],
  mesg_offline_ntf: [[1, "uid", "u64", R], [2, "time", "u64", O]],
  mesg_chat: CHAT_BODY,
  mesg_chat_ack: [[1, "suid", "u64", R], [2, "duid", "u64", R], [3, "code", "u32", R], [4, "errmsg", "str", R]],
  mesg_friend_add: [[1, "suid", "u64", R], [2, "duid", "u64", R], [3, "mark", "str", R]],
  mesg_group_creat: [[1, "uid", "u64", R], [2, "gid", "u64", R], [3, "name", "str", R], [4, "desc", "str", R]],
  mesg_group_uid_gid: UID_GID,
  mesg_group_invite: [[1, "uid", "u64", R], [2, "gid", "u64", R], [3, "to", "u64", R]],
  mesg_group_chat: [[1, "uid", "u64", R], [2, "gid", "u64", R], [3, "level", "u32", R], [4, "time", "u64", R],
    [5, "text", "str", R], [6, "data", "bytes", O]],
  mesg_code_ack: CODE,
  mesg_room_creat: [[1, "uid", "u64", R], [2, "name", "str", R], [3, "desc", "str", R]],
  mesg_room_creat_ack: [[1, "uid", "u64", R], [2, "rid", "u64", R], [3, "code", "u32", R], [4, "errmsg", "str", R]],
  mesg_room_uid_rid: UID_RID,
  mesg_room_join_ack: [[1, "uid", "u64", R], [2, "rid", "u64", R], [3, "gid", "u32", R], [4, "code", "u32", R],
    [5, "errmsg", "str", R]],
  mesg_room_quit_ack: [[1, "uid", "u64", R], [2, "rid", "u64", R], [3, "code", "u32", R], [4, "errmsg", "str", R]],
  mesg_room_chat: [[1, "uid", "u64", R], [2, "rid", "u64", R], [3, "gid", "u32", R], [4, "level", "u32", R],
    [5, "time", "u64", R], [6, "text", "str", R], [7, "data", "bytes", O]],
  mesg_room_chat_ack: [[1, "uid", "u64", R], [2, "rid", "u64", R], [3, "gid", "u32", R], [4, "code", "u32", R],
    [5, "errmsg", "str", R]],
});

// The body message of each command the page sends or reads (beehive.md §4); absent: no body.
export const BODY_OF = Object.freeze({
  [CMD.ONLINE]: "mesg_online", [CMD.ONLINE_ACK]: "mesg_online_ack", [CMD.ERROR]: "mesg_error",
  [CMD.KICK]: "mesg_kick", [CMD.SYNC]: "mesg_sync", [CMD.SYNC_ACK]: "mesg_sync_ack",
  [CMD.ONLINE_NTF]: "mesg_online_ntf", [CMD.OFFLINE_NTF]: "mesg_offline_ntf",
  [CMD.CHAT]: "mesg_chat", [CMD.CHAT_ACK]: "mesg_chat_ack", [CMD.FRIEND_ADD]: "mesg_friend_add",
  [CMD.GROUP_CREAT]: "mesg_group_creat", [CMD.GROUP_CREAT_ACK]: "mesg_code_ack",
  [CMD.GROUP_JOIN]: "mesg_group_uid_gid", [CMD.GROUP_JOIN_ACK]: "mesg_code_ack",
  [CMD.GROUP_QUIT]: "mesg_group_uid_gid", [CMD.GROUP_QUIT_ACK]: "mesg_code_ack",
  [CMD.GROUP_INVITE]: "mesg_group_invite", [CMD.GROUP_INVITE_ACK]: "mesg_code_ack",
  [CMD.GROUP_CHAT]: "mesg_group_chat", [CMD.GROUP_CHAT_ACK]: "mesg_code_ack",
  [CMD.GROUP_JOIN_NTF]: "mesg_group_uid_gid", [CMD.GROUP_QUIT_NTF]: "mesg_group_uid_gid",
  [CMD.GROUP_KICK_NTF]: "mesg_group_uid_gid", [CMD.GROUP_BL_ADD_NTF]: "mesg_group_uid_gid",
  [CMD.ROOM_CREAT]: "mesg_room_creat", [CMD.ROOM_CREAT_ACK]: "mesg_room_creat_ack",
  [CMD.ROOM_JOIN]: "mesg_room_uid_rid", [CMD.ROOM_JOIN_ACK]: "mesg_room_join_ack",
  [CMD.ROOM_QUIT]: "mesg_room_uid_rid", [CMD.ROOM_QUIT_ACK]: "mesg_room_quit_ack",
  [CMD.ROOM_KICK]: "mesg_room_uid_rid", [CMD.ROOM_CHAT]: "mesg_room_chat",
  [CMD.ROOM_CHAT_ACK]: "mesg_room_chat_ack", [CMD.ROOM_JOIN_NTF]: "mesg_room_uid_rid",
  [CMD.ROOM_QUIT_NTF]: "mesg_room_uid_rid", [CMD.ROOM_KICK_NTF]: "mesg_room_uid_rid",
});

export class BeehiveDecodeError extends Error {}

const MASK64 = (1n << 64n) - 1n;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

// == proto2 ==============================================================================================
function pushVarint(out, value) {
  let v = BigInt.asUintN(64, BigInt(value));
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

function pushBytes(out, tag, bytes) {
  pushVarint(out, tag);
  pushVarint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

export function encodeBody(name, values) {
  const out = [];
  for (const [no, field, type, required] of SCHEMAS[name]) {
    let value = values[field];
    if (value === undefined || value === null) {
      if (!required) continue;
      value = type === "str" ? "" : type === "bytes" ? new Uint8Array(0) : 0;
    }
    if (type === "u64" || type === "u32") {
      pushVarint(out, no << 3);
      pushVarint(out, type === "u32" ? BigInt(value) & 0xffffffffn : BigInt(value));
    } else {
      pushBytes(out, (no << 3) | 2, type === "str" ? utf8.encode(value) : value);
    }
  }
  return Uint8Array.from(out);
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  varint() {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.bytes.length) throw new BeehiveDecodeError("truncated varint");
      const b = this.bytes[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result & MASK64;
    }
    throw new BeehiveDecodeError("varint too long");
  }

  take(n) {
    if (n < 0 || this.pos + n > this.bytes.length) throw new BeehiveDecodeError("truncated field");
    const chunk = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return chunk;
  }

  skip(wire) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.take(8);
    else if (wire === 2) this.take(Number(this.varint()));
    else if (wire === 5) this.take(4);
    else throw new BeehiveDecodeError(`unsupported wire type ${wire}`);
  }
}

export function decodeBody(name, bytes) {
  const fields = new Map(SCHEMAS[name].map((f) => [f[0], f]));
  const reader = new Reader(bytes);
  const out = {};
  while (reader.pos < bytes.length) {
    const key = reader.varint();
    const no = Number(key >> 3n);
    const wire = Number(key & 7n);
    const field = fields.get(no);
    const type = field && field[2];
    const expected = type === "u64" || type === "u32" ? 0 : 2;
    if (!field || wire !== expected) {
      reader.skip(wire);
      continue;
    }
    if (type === "u64") out[field[1]] = reader.varint();
    else if (type === "u32") out[field[1]] = Number(reader.varint() & 0xffffffffn);
    else {
      const chunk = reader.take(Number(reader.varint()));
      try {
        out[field[1]] = type === "str" ? fromUtf8.decode(chunk) : chunk.slice();
      } catch {
        throw new BeehiveDecodeError(`field ${field[1]} is not UTF-8`);
      }
    }
  }
  for (const [, field, , required] of SCHEMAS[name]) {
    if (required && !(field in out)) throw new BeehiveDecodeError(`${name}: ${field} missing`);
  }
  return out;
}

// == frames (§2) =========================================================================================
// header: {type, sid, seq} and, on received frames, {cid, nid, dsid, dseq}; a client sends 0 for those.
export function encodeFrame(type, sid, seq, body = new Uint8Array(0)) {
  const frame = new Uint8Array(HEADER_SIZE + body.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, type);
  view.setUint32(4, body.length);
  view.setBigUint64(8, BigInt(sid));
  view.setBigUint64(28, BigInt(seq));
  frame.set(body, HEADER_SIZE);
  return frame;
}

export function decodeFrame(bytes) {
  if (bytes.length < HEADER_SIZE) throw new BeehiveDecodeError("frame shorter than its header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = {
    type: view.getUint32(0),
    length: view.getUint32(4),
    sid: view.getBigUint64(8),
    cid: view.getBigUint64(16),
    nid: view.getUint32(24),
    seq: view.getBigUint64(28),
    dsid: view.getBigUint64(36),
    dseq: view.getBigUint64(44),
  };
  if (header.length !== bytes.length - HEADER_SIZE) throw new BeehiveDecodeError("length does not match");
  return { header, body: bytes.subarray(HEADER_SIZE) };
}

// A command and its values as one frame; the body message comes from BODY_OF.
export function frame(type, sid, seq, values) {
  const name = BODY_OF[type];
  return encodeFrame(type, sid, seq, name ? encodeBody(name, values || {}) : undefined);
}

// The body of a received frame as an object ({} for commands the page does not read).
export function bodyOf(type, bytes) {
  const name = BODY_OF[type];
  return name ? decodeBody(name, bytes) : {};
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
  return out;
}
