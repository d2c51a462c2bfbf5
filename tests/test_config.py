"""The TOML file of design.md §2: keys take values of their declared type, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyim.config import ConfigError, Settings, load
from polyim.protocols.beehive.settings import BeehiveSettings
from polyim.protocols.omtp.settings import OmtpSettings
from polyim.protocols.registry import sections


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "polyim.toml"
    path.write_text(text, encoding="utf-8")
    return load(str(path), sections())


def test_a_seconds_key_takes_a_fraction_and_a_whole_number(tmp_path: Path) -> None:
    settings = _load(tmp_path, "[beehive]\nidle_timeout = 1.5\n[omtp]\nidle_timeout = 30\n")
    assert settings.protocol("beehive", BeehiveSettings).idle_timeout == 1.5
    assert settings.protocol("omtp", OmtpSettings).idle_timeout == 30.0
    assert isinstance(settings.protocol("omtp", OmtpSettings).idle_timeout, float)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[beehive]\nidle_timeout = "5"\n', "[beehive] idle_timeout must be float"),
        ("[beehive]\nidle_timeout = true\n", "[beehive] idle_timeout must be float"),
        ("[beehive]\nmax_frame = 1.5\n", "[beehive] max_frame must be int"),
        ("[beehive]\nmax_frame = true\n", "[beehive] max_frame must be int"),
        ("[beehive]\nroom_autocreate = 1\n", "[beehive] room_autocreate must be bool"),
        ("[omtp]\nlisten = 19000\n", "[omtp] listen must be str"),
        ("[omtp]\nport = 1\n", "unknown key [omtp] port"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_by_name(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, text)
    assert str(exc.value) == error
