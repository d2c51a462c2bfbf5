"""Issue 17 point 6: a protocol is one folder and one line. ``tests/protocols/echo`` is registered the way
``polyim/protocols/registry.py`` registers omtp and beehive, with config.py and server.py untouched: its
``[echo]`` section is read into its own dataclass, and a Node starts its listener and its routes."""

from __future__ import annotations

import asyncio
from dataclasses import fields
from pathlib import Path

import aiohttp
import pytest

from polyim.config import ConfigError, Settings, load
from polyim.protocols import registry
from polyim.protocols.beehive.settings import BeehiveSettings
from polyim.protocols.omtp.settings import OmtpSettings
from polyim.server import Node, print_listening
from tests.conftest import write_config
from tests.protocols import echo
from tests.protocols.echo import EchoSettings


@pytest.fixture
def with_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sixth line of the registry."""
    monkeypatch.setattr(registry, "ENTRIES", (*registry.ENTRIES, echo.ENTRY))


def _settings(tmp_path: Path, echo_section: str) -> Settings:
    return load(str(write_config(tmp_path, f"[echo]\n{echo_section}")), registry.sections())


@pytest.mark.usefixtures("with_echo")
async def test_a_registered_protocol_is_configured_started_and_routed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path, 'listen = "127.0.0.1:0"\ngreeting = "hi "\n')
    assert settings.protocol("echo", EchoSettings) == EchoSettings(listen="127.0.0.1:0", greeting="hi ")
    node = Node(settings)
    await node.start()
    try:
        print_listening(node.bound())  # what ``polyim serve`` prints once the node serves
        lines = capsys.readouterr().out.splitlines()
        echo_line = next(x for x in lines if x.startswith("listening echo tcp 127.0.0.1:"))
        assert {x.split()[1] for x in lines if x.startswith("listening ")} == {
            "omtp",
            "beehive",
            "imlc",
            "xmmep",
            "teamtalk",
            "echo",
            "http",
        }
        reader, writer = await asyncio.open_connection("127.0.0.1", int(echo_line.rsplit(":", 1)[1]))
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(7), 5) == b"hi ping"
        writer.close()
        http = next(x.port for x in node.listeners if x.protocol == "http")
        async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{http}/echo") as resp:
            assert await resp.text() == "hi "
    finally:
        await node.stop()


@pytest.mark.usefixtures("with_echo")
async def test_a_registered_protocol_switched_off_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = Node(_settings(tmp_path, "enabled = false\n"))
    await node.start()
    try:
        print_listening(node.bound())
        assert "listening echo" not in capsys.readouterr().out
        assert all(x.protocol != "echo" for x in node.listeners)
    finally:
        await node.stop()


@pytest.mark.usefixtures("with_echo")
@pytest.mark.parametrize(
    ("section", "error"),
    [("greeting = 1\n", "[echo] greeting must be str"), ("colour = 1\n", "unknown key [echo] colour")],
)
def test_a_registered_section_is_checked_against_its_own_dataclass(
    tmp_path: Path, section: str, error: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        _settings(tmp_path, section)
    assert str(exc.value) == error


def test_an_unregistered_protocol_section_is_kept_untouched(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 'greeting = 1\ncolour = "red"\n')
    assert settings.other["echo"] == {"greeting": 1, "colour": "red"}
    assert "echo" not in settings.protocols


def test_settings_name_no_protocol_and_give_each_its_own_section() -> None:
    assert not {f.name for f in fields(Settings)} & set(registry.sections())
    settings = Settings()
    assert settings.protocol("omtp", OmtpSettings) == OmtpSettings()  # no section: every default
    assert settings.protocol("omtp", OmtpSettings) is settings.protocol("omtp", OmtpSettings)
    with pytest.raises(TypeError):
        settings.protocol("omtp", BeehiveSettings)
