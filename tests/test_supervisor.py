"""``polyim serve --nodes``: what each node is given (its id, shared ports, its own port for a node-bound
listener) and what is refused. Running nodes are tested in tests/e2e/test_scaled_nodes.py."""

from __future__ import annotations

import pytest

from polyim import config
from polyim.core.nodes import ListenerInfo
from polyim.protocols import registry
from polyim.protocols.teamtalk.settings import TeamTalkSettings
from polyim.supervisor import check, node_settings, pin_ports

SCALED = {"storage": {"url": "postgresql://db/polyim"}, "cluster": {"redis_url": "redis://cache/0"}}


def settings(**sections: dict[str, object]) -> config.Settings:
    made = config.Settings()
    for name, values in sections.items():
        section = (
            made.protocol(name, registry.sections()[name])
            if name in registry.sections()
            else getattr(made, name)
        )
        for key, value in values.items():
            setattr(section, key, value)
    return made


def test_each_node_has_its_own_id_and_shares_the_ports_but_teamtalks_file_server() -> None:
    base = settings(**SCALED, server={"node_id": 7}, teamtalk={"file": "0.0.0.0:8500", "msg": "0.0.0.0:8300"})
    third = node_settings(base, 2)
    assert (third.server.node_id, third.server.reuse_port) == (9, True)
    tt = third.protocol("teamtalk", TeamTalkSettings)
    assert (tt.file, tt.msg) == ("0.0.0.0:8502", "0.0.0.0:8300")
    assert base.server.node_id == 7 and base.protocol("teamtalk", TeamTalkSettings).file == "0.0.0.0:8500"


def test_port_0_is_the_one_the_first_node_bound_except_for_node_bound_listeners() -> None:
    base = settings(
        **SCALED, http={"listen": "127.0.0.1:0"}, teamtalk={"file": "127.0.0.1:0", "msg": "127.0.0.1:0"}
    )
    second = node_settings(base, 1)
    bound = [
        ListenerInfo("http", "tcp", "127.0.0.1", 8123),
        ListenerInfo("teamtalk", "msg", "127.0.0.1", 8301),
        ListenerInfo("teamtalk", "file", "127.0.0.1", 8501),
    ]
    pin_ports(second, bound)
    tt = second.protocol("teamtalk", TeamTalkSettings)
    assert (second.http.listen, tt.msg, tt.file) == ("127.0.0.1:8123", "127.0.0.1:8301", "127.0.0.1:0")


@pytest.mark.parametrize(
    "sections",
    [{}, {"storage": {"url": "postgresql://db/polyim"}}, {"cluster": {"redis_url": "redis://cache/0"}}],
)
def test_nodes_need_postgresql_and_redis(sections: dict[str, dict[str, object]]) -> None:
    with pytest.raises(config.ConfigError, match="postgresql://"):
        check(settings(**sections), 2)
    check(settings(**SCALED), 2)
