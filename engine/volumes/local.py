"""Named volumes of the `local` driver: a directory under the engine root."""
from __future__ import annotations

import os
import re
import shutil

from engine.errors import Conflict, InvalidArgument, NotFound
from engine.paths import Paths
from engine.store.locks import file_lock
from engine.store.records import now, read_json, write_json
from engine.types import ANONYMOUS_LABEL, VolumeInfo

DRIVERS = ("local",)
LOCAL_OPTIONS = ("type", "device", "o")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Volumes:
    def __init__(self, paths: Paths):
        self.paths = paths

    def _dir(self, name: str) -> str:
        return os.path.join(self.paths.volumes, name)

    def directory(self, name: str) -> str:
        """The volume's own directory: its record, its data (`_data`) and its first-use marker."""
        return self._dir(name)

    def _info(self, rec: dict) -> VolumeInfo:
        return VolumeInfo(rec["name"], rec["driver"], os.path.join(self._dir(rec["name"]), "_data"),
                          rec.get("labels", {}), rec["created"], rec.get("options", {}))

    def check_driver(self, driver: str) -> None:
        if driver not in DRIVERS:
            raise InvalidArgument(f"volume driver {driver!r} is not available (this engine has: {', '.join(DRIVERS)})")

    def create(self, name: str, driver: str = "local", labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None) -> VolumeInfo:
        self.check_driver(driver)
        name = name or os.urandom(32).hex()
        if not _NAME.match(name):
            raise InvalidArgument(f"invalid volume name {name!r}: use letters, digits, '_', '.' and '-'")
        options = dict(options or {})
        unknown = sorted(set(options) - set(LOCAL_OPTIONS))
        if unknown:
            raise InvalidArgument(f"invalid option {unknown[0]!r} for the local volume driver "
                                  f"(it takes: {', '.join(LOCAL_OPTIONS)})")
        if options:
            _check_options(options)
        with file_lock(self.paths.lock("vol-" + name)):
            rec = read_json(os.path.join(self._dir(name), "volume.json"))
            if rec is not None:
                return self._info(rec)
            os.makedirs(self._dir(name), mode=0o700, exist_ok=True)  # root's alone; _data keeps its own mode
            os.makedirs(os.path.join(self._dir(name), "_data"), exist_ok=True)
            rec = {"name": name, "driver": driver, "labels": labels or {}, "options": options,
                   "created": now()}
            write_json(os.path.join(self._dir(name), "volume.json"), rec)
            return self._info(rec)

    def create_anonymous(self, labels: dict[str, str] | None = None) -> VolumeInfo:
        """A new volume with a random 64-hex name, labelled as anonymous (as Docker names them)."""
        return self.create(os.urandom(32).hex(), labels={**(labels or {}), ANONYMOUS_LABEL: ""})

    def get(self, name: str) -> VolumeInfo:
        rec = read_json(os.path.join(self._dir(name), "volume.json"))
        if rec is None:
            raise NotFound(f"no such volume: {name}")
        return self._info(rec)

    def disk_usage(self, name: str) -> int:
        """Bytes the volume's data takes on disk (hard-linked files once)."""
        total, seen = 0, set()
        for dirpath, dirnames, filenames in os.walk(os.path.join(self._dir(name), "_data")):
            for entry in dirnames + filenames:
                try:
                    st = os.lstat(os.path.join(dirpath, entry))
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
        return total

    def list(self) -> list[VolumeInfo]:
        out = []
        if os.path.isdir(self.paths.volumes):
            for name in sorted(os.listdir(self.paths.volumes)):
                rec = read_json(os.path.join(self._dir(name), "volume.json"))
                if rec is not None:
                    out.append(self._info(rec))
        return out

    def remove(self, name: str, in_use_by: list[str] | None = None) -> None:
        with file_lock(self.paths.lock("vol-" + name)):
            self.get(name)
            if in_use_by:
                raise Conflict(f"volume {name} is in use by container(s) {', '.join(in_use_by)}: remove them first")
            # the record goes first so a crash leaves no record pointing at half-deleted data
            os.unlink(os.path.join(self._dir(name), "volume.json"))
            shutil.rmtree(self._dir(name), ignore_errors=True)


def is_bind(options: dict[str, str]) -> bool:
    """Whether local driver options make a bind volume (o=bind: the device is a host directory)."""
    return bool({"bind", "rbind"} & set(options.get("o", "").split(",")))


def _check_options(options: dict[str, str]) -> None:
    if not options.get("type"):
        raise InvalidArgument("the local volume driver's options need a type (-o type=tmpfs, or -o type=none "
                              "-o o=bind -o device=/path)")
    if is_bind(options) and not options.get("device", "").startswith("/"):
        raise InvalidArgument("a bind volume needs an absolute host path as its device (-o device=/path)")
