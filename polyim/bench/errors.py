"""The one error of ``polyim bench`` that is the user's to fix, shared by the scenario modules."""

from __future__ import annotations


class Unavailable(Exception):
    """The scenario cannot run against this build or target (the CLI exits with code 2)."""
