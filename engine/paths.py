"""Layout of an engine root and the host-visible names derived from it.

Everything the engine keeps lives under one root directory (``--root`` /
``COMPOSER_ROOT``, default /var/lib/composer). Names that are global on the host
(bridges, veth links, cgroups) are derived from the root's random id, so two
roots on one machine never clash.
Stdlib only: the per-container monitor imports this.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from engine.store.records import read_json, write_json

DEFAULT_ROOT = "/var/lib/composer"


def default_root() -> str:
    return os.environ.get("COMPOSER_ROOT") or DEFAULT_ROOT


@dataclass(frozen=True)
class Paths:
    """Where an engine root keeps each kind of state."""

    root: str
    root_id: str  # 6 hex digits, random per root, part of every host-global name

    @classmethod
    def open(cls, root: str | None = None, create: bool = True) -> "Paths":
        root = os.path.abspath(root or default_root())
        meta = os.path.join(root, "engine.json")
        rec = read_json(meta)
        if rec is None:
            if not create:
                return cls(root, "")
            os.makedirs(root, exist_ok=True)
            from engine.store.locks import file_lock

            with file_lock(os.path.join(root, "engine.lock")):
                rec = read_json(meta)
                if rec is None:
                    rec = {"id": os.urandom(3).hex(), "version": 1}
                    write_json(meta, rec)
        return cls(root, rec["id"])

    # directories -----------------------------------------------------------
    def sub(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def blobs(self) -> str:
        return self.sub("blobs", "sha256")

    @property
    def images(self) -> str:
        return self.sub("images")

    @property
    def snapshots(self) -> str:
        return self.sub("snapshots")

    @property
    def containers(self) -> str:
        return self.sub("containers")

    @property
    def volumes(self) -> str:
        return self.sub("volumes")

    @property
    def networks(self) -> str:
        return self.sub("networks")

    @property
    def run(self) -> str:
        return self.sub("run")

    @property
    def locks(self) -> str:
        return self.sub("locks")

    def lock(self, name: str) -> str:
        return os.path.join(self.locks, name + ".lock")

    def container_dir(self, cid: str) -> str:
        return os.path.join(self.containers, cid)

    # host-global names -----------------------------------------------------
    @property
    def cgroup_parent(self) -> str:
        """Relative cgroup path under each controller that holds our containers."""
        return f"composer-{self.root_id}"
