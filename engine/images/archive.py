"""Reading image archives: `docker save` tarballs and OCI image layouts (as tar)."""
from __future__ import annotations

import contextlib
import json
import tarfile
from typing import Callable, Iterator

from engine.errors import InvalidArgument

Opener = Callable[[], "contextlib.AbstractContextManager"]


def _member(tar: tarfile.TarFile, name: str, archive: str):
    """The archive's file *name* (with or without a leading ./) as a stream."""
    for candidate in (name, "./" + name, name[2:] if name.startswith("./") else None):
        if candidate is None:
            continue
        try:
            f = tar.extractfile(candidate)
        except KeyError:
            continue
        if f is not None:
            return f
    raise InvalidArgument(f"{archive}: missing {name} in the archive")


def _member_bytes(tar: tarfile.TarFile, name: str, archive: str) -> bytes:
    return _member(tar, name, archive).read()


def _opener(tar: tarfile.TarFile, name: str, archive: str) -> Opener:
    @contextlib.contextmanager
    def open_member():
        yield _member(tar, name, archive)

    return open_member


def read_archive(path: str) -> Iterator[tuple[bytes, list[Opener], list[str]]]:
    """Each image in the archive: (config bytes, layer openers bottom first, tags)."""
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise InvalidArgument(f"{path}: not an image archive ({e})") from None
    with tar:
        names = set(tar.getnames())
        clean = {n[2:] if n.startswith("./") else n for n in names}
        if "manifest.json" in clean:
            yield from _docker_save(tar, path)
        elif "index.json" in clean and "oci-layout" in clean:
            yield from _oci_layout(tar, path)
        else:
            raise InvalidArgument(f"{path}: not an image archive (no manifest.json or OCI index.json)")


def _docker_save(tar: tarfile.TarFile, path: str):
    try:
        manifest = json.loads(_member_bytes(tar, "manifest.json", path))
    except ValueError:
        raise InvalidArgument(f"{path}: manifest.json is not valid JSON") from None
    if not isinstance(manifest, list):
        raise InvalidArgument(f"{path}: manifest.json must be a list")
    for entry in manifest:
        config = _member_bytes(tar, entry["Config"], path)
        layers = [_opener(tar, name, path) for name in entry.get("Layers") or []]
        yield config, layers, list(entry.get("RepoTags") or [])


def _blob_name(digest: str) -> str:
    algo, _, hexd = digest.partition(":")
    return f"blobs/{algo}/{hexd}"


def _oci_layout(tar: tarfile.TarFile, path: str):
    index = json.loads(_member_bytes(tar, "index.json", path))
    for desc in _manifests(tar, index, path):
        manifest = json.loads(_member_bytes(tar, _blob_name(desc["digest"]), path))
        config = _member_bytes(tar, _blob_name(manifest["config"]["digest"]), path)
        layers = [_opener(tar, _blob_name(layer["digest"]), path) for layer in manifest.get("layers") or []]
        ann = desc.get("annotations") or {}
        name = ann.get("io.containerd.image.name") or ann.get("org.opencontainers.image.ref.name")
        tags = []
        if name:
            if "/" in name or ":" in name.split("/")[-1]:
                tags.append(name)
        yield config, layers, tags


def _manifests(tar: tarfile.TarFile, index: dict, path: str) -> list[dict]:
    out = []
    for desc in index.get("manifests") or []:
        media = desc.get("mediaType", "")
        if media.endswith("image.index.v1+json") or media.endswith("manifest.list.v2+json"):
            nested = json.loads(_member_bytes(tar, _blob_name(desc["digest"]), path))
            for inner in _manifests(tar, nested, path):
                platform = inner.get("platform") or {}
                if platform.get("os", "linux") == "linux" and platform.get("architecture", "amd64") in ("amd64", ""):
                    inner.setdefault("annotations", desc.get("annotations") or {})
                    out.append(inner)
                    break
        else:
            out.append(desc)
    return out
