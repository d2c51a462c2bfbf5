"""Bounded memo tables for names the hot path parses or builds on every frame.

Why not :func:`functools.lru_cache`: from compiled code its wrapper is called the generic way (an
argument tuple built, hashed, and a linked list kept in order), several times per message; a dict
lookup is a fraction of that. The keys are few and hot (active conversations, online users), so a table
that is emptied when full, instead of evicting in LRU order, keeps them just as well. Callers memoize
only keys of a bounded size: a table of 65,536 entries must not hold 65,536 long strings a client made
up.
"""

from __future__ import annotations

from typing import Final, TypeVar

K = TypeVar("K")
V = TypeVar("V")

MEMO_LIMIT: Final = 1 << 16


def remember(memo: dict[K, V], key: K, value: V) -> V:
    """Store and return ``value``; a full table is emptied first, so its memory stays bounded."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value
