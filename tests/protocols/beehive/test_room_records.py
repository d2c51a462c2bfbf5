"""ROOM-LSN-STAT node records (beehive.md §4.4, §4.6) from the core's per-node room counts."""

from __future__ import annotations

from pathlib import Path

from polyim.core.sessions import Session
from polyim.model import DeviceClass
from polyim.protocols.beehive import beehive_pb2 as pb
from polyim.protocols.beehive.rooms import lsn_stat_records
from tests.core.test_core import FakeSink, make_core


async def test_lsn_stat_records_carry_this_nodes_counts(tmp_path: Path) -> None:
    core = await make_core(tmp_path)
    try:
        for device, klass in (("a", DeviceClass.WEB), ("b", DeviceClass.MOBILE)):
            session = Session(10000, device, klass, "test", FakeSink())
            await core.accounts.attach(session)
            core.rooms.join(session, 42)
        records = [pb.mesg_room_lsn_stat.FromString(raw) for raw in lsn_stat_records(core)]
        assert [(r.rid, r.nid, r.num) for r in records] == [(42, core.clock.node_id, 2)]
    finally:
        await core.stop()
