"""The build cache: what a step produced, keyed on everything that decides it.

A key is the sha256 of (the parent state, the instruction as evaluated, the build args it sees and
the content of the files it copies); the entry is the resulting state (layers, config, history).
Entries are files ``buildcache/<key>.json``. The image store's collector keeps every layer an entry
names (see `referenced_layers`), and an entry whose layer blobs are gone is a miss.
"""
from __future__ import annotations

import hashlib
import json
import os

from engine.paths import Paths
from engine.store.records import read_json, write_json


def cache_dir(paths: Paths) -> str:
    return paths.sub("buildcache")


def make_key(*parts) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class Cache:
    def __init__(self, paths: Paths, blobs):
        self.dir = cache_dir(paths)
        self.blobs = blobs

    def get(self, key: str) -> dict | None:
        entry = read_json(os.path.join(self.dir, key + ".json"))
        if not entry or not all(self.blobs.has(d) for d in entry.get("diff_ids", [])):
            return None
        return entry

    def put(self, key: str, entry: dict) -> None:
        os.makedirs(self.dir, exist_ok=True)
        write_json(os.path.join(self.dir, key + ".json"), entry)


def referenced_layers(paths: Paths) -> list[list[str]]:
    """The layer lists (diff ids, bottom first) of every cache entry: the collector keeps them."""
    d = cache_dir(paths)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        if n.endswith(".json"):
            entry = read_json(os.path.join(d, n)) or {}
            if isinstance(entry.get("diff_ids"), list):
                out.append(entry["diff_ids"])
    return out


def prune(paths: Paths) -> int:
    """Forget every cache entry (the next collection frees their layers). Returns how many."""
    d = cache_dir(paths)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return 0
    for n in names:
        try:
            os.unlink(os.path.join(d, n))
        except FileNotFoundError:
            pass
    return len(names)


def usage(paths: Paths, blobs, image_layers: set[str]) -> tuple[int, int]:
    """(entries, bytes of the layers only the cache keeps): `system df`'s Build Cache row."""
    entries = referenced_layers(paths)
    only = {d for diff_ids in entries for d in diff_ids} - image_layers
    return len(entries), sum(blobs.size(d) for d in only if blobs.has(d))
