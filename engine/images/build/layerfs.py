"""A read-only view of a stack of layer snapshots, by overlayfs's rules, without mounting anything.

A whiteout (a 0/0 character device) hides a path of the layers below; an opaque directory
(`trusted.overlay.opaque=y`) hides everything below it; a non-directory hides the layers' paths
under it. Paths are resolved inside the view: symlinks (with `resolve`) never lead out of it.
"""
from __future__ import annotations

import os
import stat

MAX_LINKS = 40


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def parts_of(path: str) -> list[str]:
    out: list[str] = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if out:
                out.pop()
            continue
        out.append(p)
    return out


class LayerFS:
    def __init__(self, dirs_top_first: list[str]):
        self.dirs = list(dirs_top_first)

    def _probe(self, layer: str, parts: list[str]) -> tuple[str | None, bool]:
        """(host path of *parts* in this layer or None, whether the layers below are hidden for it)."""
        p = layer
        hides = False
        for k, part in enumerate(parts):
            p = os.path.join(p, part)
            st = _lstat(p)
            if st is None:
                return None, hides
            if is_whiteout(st):
                return None, True
            if k < len(parts) - 1:
                if not stat.S_ISDIR(st.st_mode):
                    return None, True
                if is_opaque(p):
                    hides = True
        st = os.lstat(p)
        return p, hides or not stat.S_ISDIR(st.st_mode) or (bool(parts) and is_opaque(p))

    def host_path(self, path: str) -> str | None:
        """Where the entry at *path* (no symlink followed) is on the host, or None if absent."""
        parts = parts_of(path)
        for layer in self.dirs:
            found, hides = self._probe(layer, parts)
            if found is not None:
                return found
            if hides:
                return None
        return None

    def lstat(self, path: str) -> os.stat_result | None:
        found = self.host_path(path)
        return None if found is None else os.lstat(found)

    def listdir(self, path: str) -> list[str]:
        parts = parts_of(path)
        seen: dict[str, bool] = {}
        any_dir = False
        for layer in self.dirs:
            found, hides = self._probe(layer, parts)
            if found is not None:
                if not stat.S_ISDIR(os.lstat(found).st_mode):
                    if not any_dir:
                        raise NotADirectoryError(path)
                    break
                any_dir = True
                for name in os.listdir(found):
                    if name not in seen:
                        seen[name] = not is_whiteout(os.lstat(os.path.join(found, name)))
            if hides:
                break
        if not any_dir:
            raise FileNotFoundError(path)
        return sorted(n for n, visible in seen.items() if visible)

    def resolve(self, path: str, follow_last: bool = True) -> str:
        """*path* (absolute, in the view) with every symlink on the way followed inside the view."""
        todo = parts_of(path)
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if done:
                    done.pop()  # never above the root
                continue
            candidate = "/" + "/".join(done + [part])
            st = self.lstat(candidate)
            if st is not None and stat.S_ISLNK(st.st_mode) and (todo or follow_last):
                hops += 1
                if hops > MAX_LINKS:
                    raise OSError(f"too many levels of symbolic links at {candidate}")
                target = os.readlink(self.host_path(candidate) or "")
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p not in ("", ".")] + todo
                continue
            done.append(part)
        return "/" + "/".join(done)

    def read(self, path: str) -> bytes | None:
        found = self.host_path(self.resolve(path))
        if found is None or not os.path.isfile(found):
            return None
        with open(found, "rb") as f:
            return f.read()
