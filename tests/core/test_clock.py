"""The clock's ids and times: one reading stamps a message with its id, its time and its activity time."""

from __future__ import annotations

from polyim.core.clock import Clock


def test_a_stamp_reads_the_clock_once_and_agrees_with_itself() -> None:
    readings = iter([1_765_000_000_123_456_789, 1_765_000_000_123_456_789, 1_765_000_000_124_000_000])
    calls: list[int] = []

    def time_ns() -> int:
        calls.append(1)
        return next(readings)

    clock = Clock(node_id=5, time_ns=time_ns)
    first, second, third = clock.stamp(), clock.stamp(), clock.stamp()
    assert len(calls) == 3
    msg_id, ts_ms, activity_us = first
    assert ts_ms == 1_765_000_000_123 and activity_us == 1_765_000_000_123_456
    assert msg_id >> 22 == ts_ms and (msg_id >> 12) & 0x3FF == 5
    # the same nanosecond again: a later id and a later activity time, the same wall-clock ms
    assert second[0] > first[0] and second[1] == ts_ms and second[2] == activity_us + 1
    assert third[0] >> 22 == third[1] == 1_765_000_000_124 and third[2] == 1_765_000_000_124_000


def test_ids_and_activity_times_never_go_back_with_the_clock() -> None:
    now = [2_000_000_000_000_000_000]
    clock = Clock(time_ns=lambda: now[0])
    ids, activity = [clock.next_msg_id()], [clock.now_us()]
    now[0] -= 5_000_000_000  # the wall clock steps back five seconds
    for _ in range(3):
        msg_id, _ms, us = clock.stamp()
        ids.append(msg_id)
        activity.append(us)
    ids.append(clock.next_msg_id())
    assert ids == sorted(set(ids)) and activity == sorted(set(activity))


def test_more_than_4096_ids_in_one_millisecond_borrow_the_next_one() -> None:
    """The counter has 12 bits: the 4,097th id of a millisecond is the first of the next, and the ids
    go on rising (the id's time bits are made once a millisecond, so this is where they could go
    stale)."""
    clock = Clock(node_id=7, time_ns=lambda: 3_000_000_000_000_000_000)
    ids = [clock.next_msg_id() for _ in range(4097 + 5)]
    assert ids == sorted(set(ids))
    ms = 3_000_000_000_000
    assert [i >> 22 for i in ids[:4096]] == [ms] * 4096
    assert [i >> 22 for i in ids[4096:]] == [ms + 1] * 6
    assert {(i >> 12) & 0x3FF for i in ids} == {7}
    assert [i & 0xFFF for i in ids[4095:4099]] == [4095, 0, 1, 2]
