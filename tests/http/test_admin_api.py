"""The HTTP server's own endpoints: health, account creation and signed tokens (admin token required)."""

from __future__ import annotations

from tests.clients.omtp import OmtpClient
from tests.conftest import Server


def test_healthz_counts_sessions(server: Server) -> None:
    status, body = server.api("GET", "/healthz")
    assert status == 200 and body["status"] == "ok"
    assert isinstance(body["sessions"], int)


def test_create_user_needs_the_admin_token(server: Server) -> None:
    status, _body = server.api(
        "POST", "/api/v1/users", {"username": "mallory", "password": "x"}, token="wrong"
    )
    assert status == 401
    status, _ = server.api("POST", "/api/v1/users", {"username": "mallory", "password": "x"}, token="")
    assert status == 401


def test_create_user_and_conflict(server: Server) -> None:
    status, body = server.api(
        "POST", "/api/v1/users", {"username": "carol_api", "password": "pw", "nickname": "C"}
    )
    assert status == 201 and body["username"] == "carol_api" and body["uid"] >= 10000
    status, body = server.api("POST", "/api/v1/users", {"username": "carol_api", "password": "other"})
    assert status == 409
    status, body = server.api(
        "POST", "/api/v1/users", {"username": "big_uid", "password": "pw", "uid": 18600522324}
    )
    assert status == 201 and body["uid"] == 18600522324
    status, _ = server.api("POST", "/api/v1/users", {"username": "no_pw"})
    assert status == 400


async def test_signed_token_logs_in_and_a_tampered_one_does_not(server: Server) -> None:
    uid, _name = server.add_user("tok")
    status, body = server.api("POST", "/api/v1/tokens", {"uid": uid, "device": "d1", "ttl": 60})
    assert status == 200
    token = body["token"]
    client = await OmtpClient.connect("127.0.0.1", server.omtp)
    code, client_id = await client.login(client_id=str(uid), password=token, device_id="d1")
    assert (code, client_id) == (0, str(uid))
    await client.close()

    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    other = await OmtpClient.connect("127.0.0.1", server.omtp)
    code, _ = await other.login(client_id=str(uid), password=forged, device_id="d2")
    assert code == 21
    assert await other.wait_closed()

    status, _ = server.api("POST", "/api/v1/tokens", {"uid": 999_999_999})
    assert status == 404


def test_disable_checks_its_input(server: Server) -> None:
    uid, _name = server.add_user("dis")
    assert server.api("POST", f"/api/v1/users/{uid}/disable", {}, token="wrong")[0] == 401
    assert server.api("POST", f"/api/v1/users/{uid}/disable", {"disabled": "yes"})[0] == 400
    assert server.api("POST", "/api/v1/users/99999999/disable", {})[0] == 404
    assert server.api("POST", "/api/v1/users/x/disable", {})[0] == 400
    status, body = server.api("POST", f"/api/v1/users/{uid}/disable", {})
    assert status == 200 and body["disabled"] is True
    status, body = server.api("POST", f"/api/v1/users/{uid}/disable", {"disabled": False})
    assert status == 200 and body["disabled"] is False
