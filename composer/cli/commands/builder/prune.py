"""`composer builder prune`: forget the build cache (its layers are freed unless an image uses them)."""
from __future__ import annotations

HELP = "remove the build cache"


def configure(p) -> None:
    p.add_argument("-a", "--all", action="store_true", help="accepted for Docker compatibility: all is removed")
    p.add_argument("-f", "--force", action="store_true", help="do not ask (nothing is asked)")


def run(args) -> int | None:
    from engine.api import Engine

    entries, freed = Engine().prune_build_cache()
    print(f"Deleted build cache entries: {entries}\nTotal reclaimed space: {freed} bytes")
