"""``[http] metrics_token`` on a real server: set, ``/metrics`` answers only a scraper that sends it."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import Server, start_server, write_config

TOKEN = "scrape-secret-1234"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("metrics-token")
    cfg = write_config(tmp)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("[http]\n", f'[http]\nmetrics_token = "{TOKEN}"\n', 1), encoding="utf-8")
    srv = start_server(tmp, config=cfg)
    yield srv
    srv.stop()


def get_metrics(server: Server, authorization: str | None) -> tuple[int, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{server.http}/metrics")
    if authorization is not None:
        req.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_need_the_token_when_it_is_set(server: Server) -> None:
    status, text = get_metrics(server, f"Bearer {TOKEN}")
    assert status == 200 and "polyim_sessions" in text
    for header in (None, "Bearer wrong", f"Bearer {TOKEN}x", TOKEN, "Bearer test-admin-token"):
        status, text = get_metrics(server, header)
        assert status == 401, header
        assert "polyim_" not in text
