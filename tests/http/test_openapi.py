"""``GET /api/v1/openapi.json`` against the running server: every route it registers under /api/v1/ is
described (and nothing it does not serve), every documented request example is accepted with the
documented success status and answer, and every call documented behind the admin token refuses a
caller without it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from polyim.config import load
from polyim.core.files import FileTask
from polyim.protocols.registry import sections
from polyim.server import Node
from tests.clients.omtp import OmtpClient
from tests.conftest import write_config

TOKEN = "test-admin-token"
Op = tuple[str, str, dict[str, Any]]  # method, path template, operation


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[tuple[Node, str]]:
    """A fresh node in this process (its router can be walked) serving HTTP on a real port."""
    node = Node(load(str(write_config(tmp_path)), sections()))
    await node.start()
    port = next(x.port for x in node.listeners if x.protocol == "http")
    try:
        yield node, f"http://127.0.0.1:{port}"
    finally:
        await node.stop()


async def fetch_document(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/api/v1/openapi.json") as resp:
        assert resp.status == 200  # served without the admin token
        doc: dict[str, Any] = await resp.json()
    assert doc["openapi"].startswith("3.1.")
    return doc


def operations(doc: dict[str, Any]) -> Iterator[Op]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def registered(node: Node) -> set[tuple[str, str]]:
    """(method, path template) of every route under /api/v1/; aiohttp's automatic HEAD of a GET is
    the GET."""
    assert node.http_app is not None
    out = set()
    for route in node.http_app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/v1/") and route.method != "HEAD":
            out.add((route.method, path))
    return out


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/components/schemas/")
    found: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def url_of(path: str, op: dict[str, Any], live: dict[str, str] | None = None) -> str:
    """The operation's URL with its parameters' examples; ``live`` gives path values that only exist
    once made (a session id, an offline file's task)."""
    params = op.get("parameters", [])
    for p in params:
        if p["in"] == "path":
            value = (live or {}).get(p["name"], p["example"])
            path = path.replace("{" + p["name"] + "}", str(value))
    query = "&".join(f"{p['name']}={p['example']}" for p in params if p["in"] == "query")
    assert "{" not in path, f"{path}: a path parameter has no example"
    return path + ("?" + query if query else "")


def success(op: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    (code, answer), *_ = ((c, r) for c, r in op["responses"].items() if c.startswith("2"))
    return int(code), answer


async def test_every_registered_route_is_documented_and_nothing_more(node: tuple[Node, str]) -> None:
    doc = await fetch_document(node[1])
    documented = {(method, path) for method, path, _ in operations(doc)}
    assert registered(node[0]) == documented


async def make_live(node: Node, http: aiohttp.ClientSession) -> tuple[dict[str, str], OmtpClient]:
    """What the removals' examples name: a live session (carol, from the examples, logged in over OMTP)
    and an offline file kept for her (planted in the node: the file's upload is TeamTalk's business)."""
    port = next(x.port for x in node.listeners if x.protocol == "omtp")
    client = await OmtpClient.connect("127.0.0.1", port)
    code, _ = await client.login(user_name="carol", password="s3cret", device_id="pc-1")
    assert code == 0
    async with http.get("/api/v1/sessions?protocol=omtp&uid=20001") as resp:
        (session,) = (await resp.json())["sessions"]
    now = int(time.time() * 1000)
    task = FileTask("ab" * 16, 20002, 20001, "notes.txt", 5, True, now, now, "", True)
    node.core.transfers.tasks[task.task_id] = task
    return {"sid": session["sid"], "task": task.task_id}, client


async def test_every_documented_request_example_is_accepted(node: tuple[Node, str]) -> None:
    base = node[1]
    doc = await fetch_document(base)
    ops = sorted(operations(doc), key=lambda o: o[0] == "DELETE")  # stable: document order otherwise
    headers = {"Authorization": f"Bearer {TOKEN}"}
    ran = 0
    live: dict[str, str] = {}
    client: OmtpClient | None = None
    async with aiohttp.ClientSession(base, headers=headers) as http:
        for method, path, op in ops:
            if method == "DELETE" and client is None:
                live, client = await make_live(node[0], http)
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            bodies = [e["value"] for e in content.get("examples", {}).values()]
            assert bodies or "requestBody" not in op, f"{method} {path}: a body without an example"
            status, answer = success(op)
            for body in bodies or [None]:
                async with http.request(method, url_of(path, op, live), json=body) as resp:
                    got = await resp.json()
                    assert resp.status == status, (method, path, body, got)
                ran += 1
                schema = answer["content"]["application/json"].get("schema")
                if schema is not None:
                    assert set(resolve(doc, schema)["required"]) <= got.keys(), (method, path, got)
    assert ran >= len(ops)
    assert client is not None and await client.wait_closed()  # kicked by the example


async def test_calls_behind_the_token_refuse_without_it_as_documented(node: tuple[Node, str]) -> None:
    base = node[1]
    doc = await fetch_document(base)
    async with aiohttp.ClientSession(base, headers={"Authorization": "Bearer wrong"}) as http:
        for method, path, op in operations(doc):
            if op.get("security", doc["security"]) == []:
                continue
            assert "401" in op["responses"], (method, path)
            error = resolve(doc, op["responses"]["401"]["content"]["application/json"]["schema"])
            async with http.request(method, url_of(path, op), json={}) as resp:
                assert resp.status == 401, (method, path)
                assert set(error["required"]) <= (await resp.json()).keys()
