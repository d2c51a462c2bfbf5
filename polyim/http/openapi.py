"""``GET /api/v1/openapi.json``: the admin API (``http/admin.py``, ``http/push.py``) described by
OpenAPI 3.1, so an operator's tools can be generated from it and a reader sees every call, its body,
its answer and its errors in one place.

The document is built here, next to the handlers it describes, and served without the admin token: it
tells what the calls are, never anything about the node's users. Its request examples are a working
script for a fresh server, run in document order with the deletions last (tests/http/test_openapi.py
runs them): the users get explicit uids, the first group is gid 1, the room is created with rid 500.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

Json = dict[str, Any]

_ERROR = {"$ref": "#/components/schemas/Error"}
_PUSH_ERROR = {"$ref": "#/components/schemas/PushError"}
_WHY = {
    400: "a field is missing, of the wrong type or invalid",
    401: "no admin token, or the wrong one",
    403: "the owner's own request would be refused",
    404: "no such user, group, room, session or file",
    409: "taken name or uid, not a member, or the group is full",
    413: "the payload is over 60000 bytes",
    415: "the body is not application/json",
}


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **props: Json) -> Json:
    return {"type": "object", "required": required, "properties": props}


_INT: Json = {"type": "integer", "minimum": 1, "maximum": 9223372036854775807}
_SID: Json = {"type": "string", "pattern": "^[0-9]+$", "description": "a 64-bit session id, as text"}
_STR: Json = {"type": "string"}
_BOOL: Json = {"type": "boolean"}


def _page(key: str, item: str) -> Json:
    """A listing: how many matched, where this page starts, and the page."""
    return _obj(
        ["total", "offset", key],
        total={"type": "integer"},
        offset={"type": "integer"},
        **{key: {"type": "array", "items": _ref(item)}},
    )


_SCHEMAS: dict[str, Json] = {
    "Error": _obj(["code", "message"], code={"type": "integer"}, message=_STR),
    "PushError": _obj(
        ["code", "errmsg"],
        code={"type": "integer", "description": "beehive's error code (20008 auth, 10007 media type, …)"},
        errmsg=_STR,
    ),
    "Account": _obj(
        ["uid", "username", "nickname", "email", "operator", "disabled"],
        uid=_INT,
        username=_STR,
        nickname=_STR,
        email=_STR,
        operator=_BOOL,
        disabled=_BOOL,
    ),
    "User": {
        "allOf": [_ref("Account")],
        "type": "object",
        "required": ["uid", "username", "nickname", "email", "operator", "disabled", "sessions"],
        "properties": {"sessions": {"type": "integer", "description": "live sessions on every node"}},
    },
    "UserPage": _page("users", "Account"),
    "Token": _obj(["uid", "token"], uid=_INT, token=_STR),
    "GroupMember": _obj(
        ["uid", "role", "muted"], uid=_INT, role={"enum": ["owner", "manager", "member"]}, muted=_BOOL
    ),
    "Group": _obj(
        ["gid", "name", "owner", "desc", "member_limit", "mute_all", "closed"],
        gid=_INT,
        name=_STR,
        owner=_INT,
        desc=_STR,
        member_limit={"type": "integer"},
        mute_all=_BOOL,
        closed=_BOOL,
        members={"type": "array", "items": _ref("GroupMember"), "description": "in single-group answers"},
    ),
    "GroupPage": _page("groups", "Group"),
    "Dismissed": {
        "type": "object",
        "required": ["dismissed"],
        "properties": {"gid": _INT, "rid": _INT, "dismissed": {"const": True}},
    },
    "Room": _obj(
        ["rid", "name", "owner", "closed", "sessions", "subgroups", "banned"],
        rid=_INT,
        name=_STR,
        owner={"type": "integer", "description": "0 for a room a client's join created"},
        closed=_BOOL,
        sessions={"type": "integer", "description": "sessions inside, on every node"},
        subgroups={"type": "integer", "description": "sub-groups on this node"},
        banned={"type": "array", "items": _INT},
        members={"type": "array", "items": _ref("RoomMember"), "description": "sessions inside on this node"},
    ),
    "RoomMember": _obj(["uid", "sid", "protocol"], uid=_INT, sid=_SID, protocol=_STR),
    "RoomList": _obj(
        ["rooms"],
        rooms={
            "type": "array",
            "items": _obj(
                ["rid", "sessions", "members"],
                rid=_INT,
                sessions={"type": "integer"},
                members={"type": "array", "items": _INT, "description": "uids inside on this node"},
            ),
        },
    ),
    "Session": _obj(
        ["sid", "uid", "node", "protocol", "device_class", "device_id"],
        sid=_SID,
        uid=_INT,
        node={"type": "integer"},
        protocol=_STR,
        device_class={"enum": ["desktop", "mobile", "web"]},
        device_id=_STR,
        peer={"type": "string", "description": "the client's address; sessions held by this node only"},
        app=_STR,
        app_version=_STR,
    ),
    "SessionPage": _page("sessions", "Session"),
    "Kicked": _obj(["sid", "kicked"], sid=_SID, kicked={"const": True}),
    "File": _obj(
        ["task", "sender", "recipient", "name", "size", "created_ms"],
        task=_STR,
        sender=_INT,
        recipient=_INT,
        name=_STR,
        size={"type": "integer"},
        created_ms={"type": "integer"},
    ),
    "FilePage": _page("files", "File"),
    "FileDeleted": _obj(["task", "deleted"], task=_STR, deleted={"const": True}),
    "PushAnswer": _obj(
        ["code", "errmsg", "msgid", "online"],
        code={"const": 0},
        errmsg={"const": "OK"},
        msgid={"type": "integer"},
        online={"type": "integer", "description": "sessions the push was written to now"},
    ),
}


def _errors(codes: tuple[int, ...], schema: Json = _ERROR) -> Json:
    body = {"application/json": {"schema": schema}}
    return {str(c): {"description": _WHY[c], "content": body} for c in codes}


def _op(
    summary: str,
    ok: int,
    answer: str,
    errors: tuple[int, ...],
    body: Json | None = None,
    examples: list[Json] | None = None,
    params: list[Json] | None = None,
    error_schema: Json = _ERROR,
) -> Json:
    """One operation: its answer on success (``ok``, schema ``answer``), its errors, and its JSON body
    with ``examples`` when it takes one."""
    content = {"application/json": {"schema": _ref(answer)}}
    op: Json = {
        "summary": summary,
        "responses": {str(ok): {"description": "done", "content": content}, **_errors(errors, error_schema)},
    }
    if body is not None:
        named = {f"example{i + 1}": {"value": v} for i, v in enumerate(examples or [])}
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body, "examples": named}},
        }
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, example: int | str, schema: Json = _INT) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": schema, "example": example}


def _query(name: str, example: int | str, required: bool = True, schema: Json = _INT) -> Json:
    return {"name": name, "in": "query", "required": required, "schema": schema, "example": example}


def _paging(search: str = "", example: str = "") -> list[Json]:
    """``offset`` and ``limit`` of a listing, and its ``search`` text when it has one."""
    params = [
        _query("offset", 0, False, {"type": "integer", "minimum": 0, "default": 0}),
        _query("limit", 50, False, {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
    ]
    if search:
        params.insert(0, {**_query("q", example, False, _STR), "description": search})
    return params


_UIDS = {"type": "array", "items": _INT, "minItems": 1}
_GID, _RID = _path_param("gid", 1), _path_param("rid", 500)


def _users() -> dict[str, Json]:
    create = _obj(
        ["username", "password"],
        username=_STR,
        password=_STR,
        uid=_INT,
        nickname=_STR,
        email=_STR,
        operator=_BOOL,
    )
    users = [
        {"username": "carol", "password": "s3cret", "uid": 20001, "nickname": "Carol"},
        {"username": "dave", "password": "s3cret", "uid": 20002, "email": "dave@example.org"},
        {"username": "erin", "password": "s3cret", "uid": 20003},
    ]
    disable = {"type": "object", "properties": {"disabled": {"type": "boolean", "default": True}}}
    token = _obj(["uid"], uid=_INT, device=_STR, ttl={"type": "integer", "description": "seconds"})
    return {
        "/api/v1/users": {
            "get": _op(
                "Accounts (disabled ones too), by uid, a page at a time",
                200,
                "UserPage",
                (400, 401),
                params=_paging("text in the username or nickname, or the uid", "car"),
            ),
            "post": _op("Create an account", 201, "Account", (400, 401, 409), create, users),
        },
        "/api/v1/users/{uid}": {
            "get": _op(
                "An account and its live sessions' count",
                200,
                "User",
                (400, 401, 404),
                params=[_path_param("uid", 20001)],
            )
        },
        "/api/v1/users/{uid}/password": {
            "post": _op(
                "Set an account's password (open sessions stay)",
                200,
                "Account",
                (400, 401, 404),
                _obj(["password"], password={"type": "string", "minLength": 1}),
                [{"password": "n3w-s3cret"}],
                [_path_param("uid", 20002)],
            )
        },
        "/api/v1/users/{uid}/disable": {
            "post": _op(
                "Disable (or enable) an account; its live sessions are kicked in every protocol",
                200,
                "Account",
                (400, 401, 404),
                disable,
                [{"disabled": True}],
                [_path_param("uid", 20003)],
            )
        },
        "/api/v1/tokens": {
            "post": _op(
                "Issue a signed login token for a user (an app server's login)",
                200,
                "Token",
                (400, 401, 404),
                token,
                [{"uid": 20001, "device": "phone", "ttl": 3600}],
            )
        },
    }


def _groups() -> dict[str, Json]:
    create = _obj(["name", "owner"], name=_STR, owner=_INT, members=_UIDS)
    uids = _obj(["uids"], uids=_UIDS)
    return {
        "/api/v1/groups": {
            "get": _op(
                "The groups a user belongs to (uid), else the groups whose name holds q; by gid, paged",
                200,
                "GroupPage",
                (400, 401, 404),
                params=[
                    {**_query("uid", 20001, False), "description": "the groups this user belongs to"},
                    *_paging("text in the group's name, or the gid (without uid)", "club"),
                ],
            ),
            "post": _op(
                "Create a group as its owner would; the members are told",
                201,
                "Group",
                (400, 401, 403, 404, 409),
                create,
                [{"name": "club", "owner": 20001}],
            ),
        },
        "/api/v1/groups/{gid}": {
            "get": _op("A group and its members", 200, "Group", (400, 401, 404), params=[_GID]),
            "delete": _op(
                "Dismiss a group as its owner would; the members are told",
                200,
                "Dismissed",
                (400, 401, 403, 404),
                params=[_GID],
            ),
        },
        "/api/v1/groups/{gid}/members": {
            "post": _op(
                "Add members as the owner would",
                200,
                "Group",
                (400, 401, 403, 404, 409),
                uids,
                [{"uids": [20002]}],
                [_GID],
            )
        },
        "/api/v1/groups/{gid}/members/remove": {
            "post": _op(
                "Remove members as the owner would",
                200,
                "Group",
                (400, 401, 403, 404, 409),
                uids,
                [{"uids": [20002]}],
                [_GID],
            )
        },
    }


def _rooms() -> dict[str, Json]:
    create = _obj(["owner"], owner=_INT, name=_STR, desc=_STR, rid=_INT)
    return {
        "/api/v1/rooms": {
            "get": _op(
                "The rooms with the most sessions, largest first, with the uids inside on this node",
                200,
                "RoomList",
                (400, 401),
                params=[_query("top", 10, required=False)],
            ),
            "post": _op(
                "Create an open, empty room",
                201,
                "Room",
                (400, 401, 404, 409),
                create,
                [{"owner": 20001, "name": "hall", "desc": "the main hall", "rid": 500}],
            ),
        },
        "/api/v1/rooms/{rid}": {
            "get": _op(
                "A room: owner, sessions, sub-groups, bans, the sessions inside on this node",
                200,
                "Room",
                (400, 401, 404),
                params=[_RID],
            ),
            "delete": _op(
                "Dismiss a room: everyone inside is told and removed; the rid stays dead",
                200,
                "Dismissed",
                (400, 401, 403, 404),
                params=[_RID],
            ),
        },
        "/api/v1/rooms/{rid}/kick": {
            "post": _op(
                "Ban a user from a room; their sessions inside are removed",
                200,
                "Room",
                (400, 401, 403, 404),
                _obj(["uid"], uid=_INT),
                [{"uid": 20002}],
                [_RID],
            )
        },
    }


def _pushes() -> dict[str, Json]:
    payload = {"text": _STR, "data": {"type": "string", "contentEncoding": "base64"}}
    user = {
        "type": "object",
        "required": ["uid"],
        "description": "text (UTF-8) or data (base64) is required",
        "properties": {**payload, "uid": _INT, "store": _BOOL, "expire": {"type": "integer", "minimum": 0}},
    }
    broadcast = {
        "type": "object",
        "description": "text (UTF-8) or data (base64) is required",
        "properties": {**payload, "app": _STR, "version": _STR},
    }
    room = {
        "type": "object",
        "required": ["rid"],
        "description": "text (UTF-8) or data (base64) is required",
        "properties": {**payload, "rid": _INT, "expire": {"type": "integer", "minimum": 0, "default": 0}},
    }
    codes = (400, 401, 404, 413, 415)
    return {
        "/api/v1/push/user": {
            "post": _op(
                "Push to a user's sessions in every protocol; store keeps it for later syncs",
                200,
                "PushAnswer",
                codes,
                user,
                [
                    {"uid": 20001, "text": "hello", "store": True, "expire": 3600},
                    {"uid": 20002, "data": "aGk="},
                ],
                error_schema=_PUSH_ERROR,
            )
        },
        "/api/v1/push/broadcast": {
            "post": _op(
                "Push to every session (never stored)",
                200,
                "PushAnswer",
                (400, 401, 413, 415),
                broadcast,
                [{"text": "maintenance at 22:00"}],
                error_schema=_PUSH_ERROR,
            )
        },
        "/api/v1/push/room": {
            "post": _op(
                "Broadcast in a room: to the sessions inside, and to later joiners until expire (seconds)",
                200,
                "PushAnswer",
                codes,
                room,
                [{"rid": 500, "text": "the hall closes soon", "expire": 60}],
                error_schema=_PUSH_ERROR,
            )
        },
    }


def _sessions_and_files() -> dict[str, Json]:
    """The live sessions of every node and the offline files kept: operators look and remove. The
    examples of the removals name the session and the file a test makes live first."""
    protocol = {**_query("protocol", "omtp", False, _STR), "description": "only this protocol's"}
    node = {**_query("node", 1, False, {"type": "integer"}), "description": "only this node's"}
    uid = {**_query("uid", 20001, False), "description": "only this user's"}
    return {
        "/api/v1/sessions": {
            "get": _op(
                "Live sessions of every node, by id, a page at a time",
                200,
                "SessionPage",
                (400, 401),
                params=[protocol, node, uid, *_paging()],
            )
        },
        "/api/v1/sessions/{sid}": {
            "delete": _op(
                "Kick a session, on whatever node holds it, with its protocol's kick",
                200,
                "Kicked",
                (400, 401, 404),
                params=[_path_param("sid", "1", _SID)],
            )
        },
        "/api/v1/files": {
            "get": _op(
                "Offline files kept for a user (everyone's without uid), oldest first",
                200,
                "FilePage",
                (400, 401),
                params=[{**uid, "description": "only the files for this recipient"}, *_paging()],
            )
        },
        "/api/v1/files/{task}": {
            "delete": _op(
                "Delete an offline file and its bytes",
                200,
                "FileDeleted",
                (401, 404),
                params=[_path_param("task", "0" * 32, _STR)],
            )
        },
    }


def _console() -> dict[str, Json]:
    """What the web console polls (``http/console/api.py``)."""
    per_node = _obj(
        ["node", "protocol", "connections", "sessions"],
        node={"type": "integer"},
        protocol=_STR,
        connections={"type": "integer", "description": "open connections (other nodes: as last reported)"},
        sessions={"type": "integer", "description": "logged-in sessions"},
    )
    rate = {"type": "array", "items": {"type": "number"}}
    rates = _obj(
        ["interval", "t_ms", "messages", "deliveries"],
        interval={"type": "number", "description": "seconds between samples"},
        t_ms={"type": "array", "items": {"type": "integer"}, "description": "each sample's time"},
        messages={**rate, "description": "messages committed per second, one per sample"},
        deliveries={**rate, "description": "messages handed to this node's sessions per second"},
    )
    stats = _obj(
        ["node", "nodes", "sessions", "users_online", "rooms", "rates"],
        node={"type": "integer", "description": "the node answering"},
        nodes={"type": "array", "items": per_node},
        sessions={"type": "integer", "description": "on every node"},
        users_online={"type": "integer", "description": "users with a session on this node"},
        rooms={"type": "integer", "description": "rooms with sessions on this node"},
        rates=rates,
    )
    ok = {"description": "done", "content": {"application/json": {"schema": stats}}}
    return {
        "/api/v1/stats": {
            "get": {
                "summary": "A snapshot for the live view: per node and protocol, and the last minutes' rates",
                "responses": {"200": ok, **_errors((401,))},
            }
        }
    }


def document() -> Json:
    describe = {
        "summary": "This document",
        "security": [],
        "responses": {
            "200": {"description": "the OpenAPI 3.1 document", "content": {"application/json": {}}}
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "polyim admin API",
            "version": "1",
            "description": "Every call but this document needs the admin token as a bearer token (or the web"
            " console's login: its session cookie, its X-CSRF-Token header, the console's own Origin).",
        },
        "security": [{"adminToken": []}],
        "paths": {
            **_users(),
            **_groups(),
            **_rooms(),
            **_pushes(),
            **_sessions_and_files(),
            **_console(),
            "/api/v1/openapi.json": {"get": describe},
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
        },
    }


def routes() -> list[web.RouteDef]:
    doc = document()

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(doc)

    return [web.get("/api/v1/openapi.json", openapi)]
