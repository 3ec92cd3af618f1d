"""One read-only directory per layer, keyed by chain id, shared by every image that has that layer.

A layer's chain id names the layer *over its parents* (OCI image spec), so the same layer on the
same parents is unpacked once, whatever image brought it. Layout::

    snapshots/<chain hex>/fs          the unpacked layer (an overlayfs lowerdir)
    snapshots/<chain hex>/meta.json   {"chain_id", "diff_id", "parent"}

A snapshot is made in a temporary directory and renamed into place whole. Which snapshots are in
use is decided by the image store (a scan of its records); `prune(keep)` deletes the rest.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable

from engine.paths import Paths
from engine.store.records import write_json

TEMP_MARK = ".tmp-"


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The OCI chain id of each layer, bottom first: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
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
        """The snapshot's directory (what overlayfs mounts as a lowerdir)."""
        return os.path.join(self.dir, chain_id.split(":", 1)[1], "fs")

    def has(self, chain_id: str) -> bool:
        return os.path.isdir(self.fs(chain_id))

    def prepare(self, chain_id: str, fill: Callable[[str], object], diff_id: str = "",
                parent: str | None = None) -> str:
        """Make the snapshot *chain_id* unless it exists: ``fill(dir)`` unpacks into a temporary
        directory that is then published whole. Returns the snapshot's fs directory."""
        if self.has(chain_id):
            return self.fs(chain_id)
        os.makedirs(self.dir, exist_ok=True)
        final = os.path.dirname(self.fs(chain_id))
        tmp = f"{final}{TEMP_MARK}{os.getpid()}-{os.urandom(4).hex()}"
        try:
            os.makedirs(os.path.join(tmp, "fs"))
            fill(os.path.join(tmp, "fs"))
            write_json(os.path.join(tmp, "meta.json"), {"chain_id": chain_id, "diff_id": diff_id, "parent": parent})
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.has(chain_id):  # otherwise another process published the same layer first: fine
                    raise
        finally:
            if os.path.lexists(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
        return self.fs(chain_id)

    def lowerdirs(self, diff_ids: list[str]) -> list[str]:
        """The snapshot dirs of an image with these layers (bottom first), TOP layer first."""
        return [self.fs(c) for c in reversed(chain_ids(diff_ids))]

    def list(self) -> list[str]:
        """Chain ids of the published snapshots."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return ["sha256:" + n for n in names if TEMP_MARK not in n]

    def remove(self, chain_id: str) -> None:
        path = os.path.dirname(self.fs(chain_id))
        if os.path.lexists(path):
            # rename first, so a half-deleted snapshot is never taken for a whole one
            doomed = f"{path}{TEMP_MARK}rm-{os.getpid()}-{os.urandom(4).hex()}"
            os.rename(path, doomed)
            shutil.rmtree(doomed, ignore_errors=True)

    def prune(self, keep: set[str], temporaries: bool = False) -> list[str]:
        """Delete every snapshot whose chain id is not in *keep*; with *temporaries*, also the
        temporary dirs of unpacks that died (only when no unpack can be running). Returns removed ids."""
        removed = []
        for chain_id in self.list():
            if chain_id not in keep:
                self.remove(chain_id)
                removed.append(chain_id)
        if temporaries and os.path.isdir(self.dir):
            for name in os.listdir(self.dir):
                if TEMP_MARK in name:
                    shutil.rmtree(os.path.join(self.dir, name), ignore_errors=True)
        return removed
