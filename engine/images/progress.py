"""Progress of pulls and pushes: events passed to a callback the caller supplies.

An event with an `id` (a layer's short digest) updates that item's line; one without is a
message of its own ("Digest: ...", "Status: ..."). Front ends draw bars or print plain lines.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    status: str  # "Downloading", "Pull complete", "Pushed", ... or a whole message when id is ""
    id: str = ""
    current: int = 0
    total: int = 0


Progress = Callable[[ProgressEvent], None]


def quiet(event: ProgressEvent) -> None:
    """The callback that shows nothing."""


def short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]
