"""Layout of an engine root and the host-visible names derived from it.

Everything the engine keeps lives under one root directory (``--root`` /
``COMPOSER_ROOT``, default /var/lib/composer). Names that are global on the host
(bridges, veth links, cgroups) are derived from the root's random id, so two
roots on one machine never clash.

The root is root's alone: the root directory and the engine's own directories are 0700, records,
configs and logs 0600, so no other host user can read a service's environment or reach a file a
container planted in its filesystem (a setuid binary in an upper dir: the CVE-2021-41091 class).
Container contents (layer and upper dirs, volume data, the /etc files bound into containers) keep
their own modes: a container sees them through its mounts, never through the root's directories.
A root made before this rule is tightened once by the next command that opens it (``permissions``
in engine.json records that it was); the root directory's own mode is checked every time (a stat).
Stdlib only: the per-container monitor imports this.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from engine.store.records import read_json, write_json

DEFAULT_ROOT = "/var/lib/composer"
PERMISSIONS = 1  # engine.json's "permissions" once the root's modes are private (see the docstring)
PRIVATE_DIRS = ("blobs", "images", "snapshots", "containers", "volumes", "networks", "run", "locks")
CONTAINER_FILES = ("hosts", "resolv.conf", "hostname")  # bound into the container: its users read them


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
        try:
            rec = read_json(meta)
        except PermissionError:
            from engine.errors import EngineError

            raise EngineError(f"permission denied: the engine root {root} is root's alone; run composer as root "
                              "(sudo)") from None
        if rec is None:
            if not create:
                return cls(root, "")
            os.makedirs(root, mode=0o700, exist_ok=True)
            from engine.store.locks import file_lock

            with file_lock(os.path.join(root, "engine.lock")):
                rec = read_json(meta)
                if rec is None:
                    os.chmod(root, 0o700)  # it may have been there already
                    for name in PRIVATE_DIRS:
                        os.makedirs(os.path.join(root, name), mode=0o700, exist_ok=True)
                    rec = {"id": os.urandom(3).hex(), "version": 1, "permissions": PERMISSIONS}
                    write_json(meta, rec)
        if rec.get("permissions") != PERMISSIONS:
            _tighten(root, meta, rec)
        elif os.stat(root).st_mode & 0o077:
            _chmod(root, 0o700)
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


def _chmod(path: str, mode: int) -> None:
    try:
        os.chmod(path, mode, follow_symlinks=False)
    except OSError:
        pass  # gone meanwhile, or not ours to change (a command run without root)


def _tighten(root: str, meta: str, rec: dict) -> None:
    """Make a root from before the permissions rule private, once: the root, its top directories and
    each object's directory 0700, the files they hold 0600 (not what is bound into containers);
    what lies deeper (layers, upper dirs, volume data) is container content and keeps its modes.
    A failure (a read-only or full disk, no root) leaves the marker unset: the next command retries."""
    from engine.store.locks import file_lock

    try:
        with file_lock(os.path.join(root, "engine.lock")):
            _chmod(root, 0o700)
            with os.scandir(root) as top:
                for entry in top:
                    if entry.is_dir(follow_symlinks=False):
                        _chmod(entry.path, 0o700)
                        _tighten_objects(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        _chmod(entry.path, 0o600)
            write_json(meta, {**rec, "permissions": PERMISSIONS})
    except OSError:
        pass


def _tighten_objects(parent: str) -> None:
    with os.scandir(parent) as objects:
        for obj in objects:
            if obj.is_file(follow_symlinks=False):
                _chmod(obj.path, 0o600)
            elif obj.is_dir(follow_symlinks=False):
                _chmod(obj.path, 0o700)
                with os.scandir(obj.path) as files:
                    for f in files:
                        if f.is_file(follow_symlinks=False) and f.name not in CONTAINER_FILES:
                            _chmod(f.path, 0o600)
