"""The login throttle behind its cluster seam (design.md §7): the one-process implementation."""

from __future__ import annotations

from polyim.cluster.local import LocalThrottle


async def test_throttle_locks_account_after_five_failures() -> None:
    t = LocalThrottle(max_failed=5, window_s=300, lockout_s=60)
    key = "acct:alice"
    for i in range(4):
        await t.fail(key, now=100 + i)
        assert not await t.locked(key, now=100 + i)
    await t.fail(key, now=104)
    assert await t.locked(key, now=104)
    assert await t.locked(key, now=163.9)
    assert not await t.locked(key, now=164.1)
    # the count starts afresh after a lockout
    await t.fail(key, now=170)
    assert not await t.locked(key, now=170)
    assert not await t.locked("acct:bob", now=104)


async def test_throttle_window_forgets_old_failures() -> None:
    t = LocalThrottle(max_failed=5, window_s=300, lockout_s=60)
    for i in range(4):
        await t.fail("acct:a", now=i)
    await t.fail("acct:a", now=400)  # the failures at 0..3 are more than 300 s old: they no longer count
    for i in range(3):
        await t.fail("acct:a", now=401 + i)
    assert not await t.locked("acct:a", now=403)
    await t.fail("acct:a", now=404)
    assert await t.locked("acct:a", now=404)


async def test_throttle_success_resets() -> None:
    t = LocalThrottle(max_failed=5, window_s=300, lockout_s=60)
    for i in range(4):
        await t.fail("acct:a", now=i)
    await t.succeed("acct:a")
    for i in range(4):
        await t.fail("acct:a", now=10 + i)
    assert not await t.locked("acct:a", now=14)
    await t.fail("acct:a", now=15)
    assert await t.locked("acct:a", now=15)


async def test_throttle_address_keys_have_four_times_the_limit() -> None:
    t = LocalThrottle(max_failed=5, window_s=300, lockout_s=60)
    for i in range(19):
        await t.fail("addr:10.0.0.1", now=i)
    assert not await t.locked("addr:10.0.0.1", now=19)
    await t.fail("addr:10.0.0.1", now=20)
    assert await t.locked("addr:10.0.0.1", now=20)
    assert not await t.locked("addr:10.0.0.1", now=81)
