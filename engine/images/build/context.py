"""The build context: a local directory, filtered by its `.dockerignore`.

`.dockerignore` lines are patterns like Go's filepath.Match plus `**` (any number of directories),
relative to the context root (a leading `/` is dropped); `!` re-includes; the last matching line
wins, and a pattern that matches a directory matches everything under it. `#` starts a comment.
"""
from __future__ import annotations

import os
import re

from engine.images.build.layerfs import LayerFS, parts_of


def _regex(pattern: str) -> str:
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern[i + 1:i + 2] == "*":
                i += 1
                if pattern[i + 1:i + 2] == "/":
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("^", "!") else i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                if body[:1] in ("^", "!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def glob_regex(pattern: str) -> re.Pattern:
    """A compiled whole-path matcher for a `.dockerignore` or COPY source pattern."""
    return re.compile(_regex(pattern) + r"\Z", re.DOTALL)


class Ignore:
    def __init__(self, lines: list[str]):
        self.rules: list[tuple[bool, re.Pattern]] = []
        for line in lines:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            negate = text.startswith("!")
            if negate:
                text = text[1:].strip()
            clean = "/".join(parts_of(text))
            if not clean:
                continue
            self.rules.append((negate, glob_regex(clean)))
        self.has_exceptions = any(neg for neg, _ in self.rules)

    @classmethod
    def read(cls, context_dir: str, dockerfile: str | None = None) -> "Ignore":
        """`<Dockerfile>.dockerignore` next to the Dockerfile wins over the context's `.dockerignore`."""
        candidates = [os.path.join(context_dir, ".dockerignore")]
        if dockerfile:
            candidates.insert(0, dockerfile + ".dockerignore")
        for path in candidates:
            try:
                with open(path, encoding="utf-8") as f:
                    return cls(f.read().splitlines())
            except FileNotFoundError:
                continue
        return cls([])

    def excluded(self, rel: str) -> bool:
        if not self.rules:
            return False
        parts = parts_of(rel)
        prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
        result = False
        for negate, rx in self.rules:
            if any(rx.match(p) for p in prefixes):
                result = not negate
        return result


class Context(LayerFS):
    """The context directory as a source tree: what `.dockerignore` excludes is not there."""

    def __init__(self, root: str, ignore: Ignore):
        super().__init__([os.path.realpath(root)])
        self.root = self.dirs[0]
        self.ignore = ignore

    def host_path(self, path: str) -> str | None:
        # one directory, no whiteouts: a join is enough. Callers resolve symlinks in the view first
        # (LayerFS.resolve) or walk real directories, so no symlink of the context is followed here.
        rel = "/".join(parts_of(path))
        if rel and self.ignore.excluded(rel) and not self._reincluded_below(rel):
            return None
        host = os.path.join(self.root, rel) if rel else self.root
        return host if os.path.lexists(host) else None

    def _reincluded_below(self, rel: str) -> bool:
        # an excluded directory is still entered when a `!` rule may bring back something inside it
        return self.ignore.has_exceptions and os.path.isdir(os.path.join(self.root, rel))

    def listdir(self, path: str) -> list[str]:
        host = self.host_path(path)
        if host is None:
            raise FileNotFoundError(path)
        base = "/".join(parts_of(path))
        names = sorted(os.listdir(host))
        if not self.ignore.rules:
            return names
        return [n for n in names if self.host_path(f"{base}/{n}") is not None]
