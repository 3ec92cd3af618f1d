"""One read-only directory per layer, keyed by chain id, shared by every image that has that layer."""
from __future__ import annotations

import hashlib
import os
import shutil

from engine.paths import Paths


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The OCI chain id of each layer: the identity of a layer *over its parents*."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


class Snapshots:
    def __init__(self, paths: Paths):
        self.dir = paths.snapshots

    def fs(self, chain_id: str) -> str:
        return os.path.join(self.dir, chain_id.split(":", 1)[1], "fs")

    def has(self, chain_id: str) -> bool:
        return os.path.isdir(self.fs(chain_id))

    def prepare(self, chain_id: str, fill) -> None:
        """Make the snapshot by calling ``fill(directory)`` on a temporary dir, then publish it whole."""
        if self.has(chain_id):
            return
        os.makedirs(self.dir, exist_ok=True)
        final = os.path.dirname(self.fs(chain_id))
        tmp = f"{final}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            os.makedirs(os.path.join(tmp, "fs"))
            fill(os.path.join(tmp, "fs"))
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.has(chain_id):  # lost a race to an identical unpack: fine
                    raise
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    def lowerdirs(self, diff_ids: list[str]) -> list[str]:
        """The snapshot dirs for an image, top layer first (overlayfs' lowerdir order)."""
        return [self.fs(c) for c in reversed(chain_ids(diff_ids))]

    def prune(self, keep: set[str]) -> None:
        """Delete every snapshot whose chain id is not in *keep*."""
        if not os.path.isdir(self.dir):
            return
        for entry in os.listdir(self.dir):
            if "sha256:" + entry not in keep and ".tmp-" not in entry:
                shutil.rmtree(os.path.join(self.dir, entry), ignore_errors=True)
