"""Image references with Docker's rules: `[registry[:port]/]path[:tag][@sha256:...]`."""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import InvalidArgument

DEFAULT_REGISTRY = "docker.io"
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"^(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")
_ID = re.compile(r"^[a-f0-9]{64}$")
MAX_NAME = 255


@dataclass(frozen=True)
class Reference:
    """An image reference split into registry, repository, tag and digest."""

    registry: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def familiar_name(self) -> str:
        if self.registry == DEFAULT_REGISTRY:
            return self.path.removeprefix("library/")
        return f"{self.registry}/{self.path}"

    def familiar(self) -> str:
        """How `docker images` shows it: `busybox:latest`, `localhost:5000/app:1`."""
        out = self.familiar_name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out


def parse(ref: str) -> Reference:
    text = ref.strip()
    if not text:
        raise InvalidArgument("invalid reference format: empty image name")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidArgument(f"invalid reference format: {ref!r} has a malformed digest")
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidArgument(f"invalid reference format: {ref!r} has an invalid tag")
    parts = text.split("/")
    registry = DEFAULT_REGISTRY
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry = parts.pop(0)
        if not _DOMAIN.match(registry):
            raise InvalidArgument(f"invalid reference format: {ref!r} has an invalid registry host {registry!r}")
    if registry == "index.docker.io":
        registry = DEFAULT_REGISTRY
    if not parts or not all(_COMPONENT.match(p) for p in parts):
        problem = "must be lowercase" if text != text.lower() else "is not a valid repository name"
        raise InvalidArgument(f"invalid reference format: {ref!r} {problem}")
    path = "/".join(parts)
    if len(text) > MAX_NAME:
        raise InvalidArgument(f"invalid reference format: {ref!r} is longer than {MAX_NAME} characters")
    if registry == DEFAULT_REGISTRY and len(parts) == 1 and _ID.match(path):
        raise InvalidArgument(f"invalid reference format: {ref!r} is a 64-digit hex string, which names an image "
                              "id, not a repository")
    if registry == DEFAULT_REGISTRY and len(parts) == 1:
        path = "library/" + path
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, path, tag, digest)


def normalize(ref: str) -> str:
    return parse(ref).familiar()
