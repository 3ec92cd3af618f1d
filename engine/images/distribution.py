"""Where each layer is known to live in registries, in compressed form (like Docker's v2 metadata).

Layers are stored uncompressed (named by diff id); a registry holds them compressed under other
digests. Remembering `diff id -> {compressed digest: size, media type, repositories}` from pulls
and pushes lets a push ask the registry about a layer (HEAD, or a cross-repository mount) before
compressing and uploading it. Layout: ``images/distribution/<diff hex>.json``. Only a hint: every
entry is checked with the registry before it is relied on.
"""
from __future__ import annotations

import os

from engine.paths import Paths
from engine.store.locks import file_lock
from engine.store.records import read_json, write_json


class Distribution:
    def __init__(self, paths: Paths):
        self.dir = os.path.join(paths.images, "distribution")
        self.lock_path = paths.lock("distribution")

    def _path(self, diff_id: str) -> str:
        return os.path.join(self.dir, diff_id.split(":", 1)[1] + ".json")

    def get(self, diff_id: str) -> dict[str, dict]:
        return read_json(self._path(diff_id), {}) or {}

    def add(self, diff_id: str, digest: str, size: int, media_type: str, repository: str) -> None:
        """*repository* is `registry/path`."""
        with file_lock(self.lock_path):
            entries = self.get(diff_id)
            entry = entries.setdefault(digest, {"size": size, "mediaType": media_type, "repositories": []})
            if repository not in entry["repositories"]:
                entry["repositories"].append(repository)
            os.makedirs(self.dir, exist_ok=True)
            write_json(self._path(diff_id), entries)

    def prune(self, keep: set[str]) -> None:
        """Forget layers whose diff id is not in *keep*."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return
        for n in names:
            if n.endswith(".json") and "sha256:" + n[:-5] not in keep:
                try:
                    os.unlink(os.path.join(self.dir, n))
                except FileNotFoundError:
                    pass
