"""Reading image archives: `docker save` tarballs and OCI image layouts (as a tar, maybe compressed).

`read_archive` only reads and checks the archive's structure; storing (and verifying each layer
against the config's diff ids) is the image store's job.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from engine.errors import InvalidArgument
from engine.images.config import host_architecture
from engine.snapshots.compression import DECOMPRESS_ERRORS

Opener = Callable[[], contextlib.AbstractContextManager[BinaryIO]]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")


@dataclass
class ArchiveImage:
    config: bytes  # the image config exactly as stored (its sha256 is the image id)
    layers: list[Opener]  # one opener per layer, bottom first; each yields the layer blob (maybe compressed)
    tags: list[str] = field(default_factory=list)  # as written in the archive, not yet normalized


class _Archive:
    def __init__(self, tar: tarfile.TarFile, path: str):
        self.tar = tar
        self.path = path
        self.names = {_strip(n): n for n in tar.getnames()}

    def has(self, name: str) -> bool:
        return _strip(name) in self.names

    def member(self, name: str) -> BinaryIO:
        """The archive's file *name* (with or without a leading ./) as a stream."""
        real = self.names.get(_strip(name))
        f = None
        if real is not None:
            try:
                f = self.tar.extractfile(real)
            except KeyError:  # a link to a member that is not in the archive
                f = None
        if f is None:
            raise InvalidArgument(f"{self.path}: {name} is missing from the archive: it is incomplete or damaged")
        return f  # type: ignore[return-value]

    def read(self, name: str) -> bytes:
        return self.member(name).read()

    def json(self, name: str) -> object:
        try:
            return json.loads(self.read(name))
        except ValueError:
            raise InvalidArgument(f"{self.path}: {name} in the archive is not valid JSON") from None

    def opener(self, name: str) -> Opener:
        if not self.has(name):
            raise InvalidArgument(f"{self.path}: layer {name} is missing from the archive")

        @contextlib.contextmanager
        def open_member() -> Iterator[BinaryIO]:
            f = self.member(name)
            try:
                yield f
            finally:
                f.close()

        return open_member

    def blob(self, digest: object) -> str:
        if not isinstance(digest, str) or ":" not in digest:
            raise InvalidArgument(f"{self.path}: malformed digest {digest!r} in the archive")
        algo, _, hexd = digest.partition(":")
        return f"blobs/{algo}/{hexd}"


def _strip(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def read_archive(path: str) -> Iterator[ArchiveImage]:
    """Each image of the archive at *path*, in archive order. The archive stays open while iterating."""
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, *DECOMPRESS_ERRORS) as e:
        raise InvalidArgument(f"{path}: not an image archive ({e})") from None
    with tar:
        archive = _Archive(tar, path)
        try:
            if archive.has("manifest.json"):
                yield from _docker_save(archive)
            elif archive.has("index.json") and archive.has("oci-layout"):
                yield from _oci_layout(archive)
            else:
                raise InvalidArgument(f"{path}: not an image archive (it has neither manifest.json nor an OCI "
                                      "index.json): make one with `docker save` or an OCI tool")
        except (KeyError, TypeError, AttributeError) as e:
            raise InvalidArgument(f"{path}: malformed image archive ({type(e).__name__}: {e})") from None
        except (tarfile.TarError, *DECOMPRESS_ERRORS) as e:
            raise InvalidArgument(f"{path}: damaged image archive ({e})") from None


def _docker_save(archive: _Archive) -> Iterator[ArchiveImage]:
    manifest = archive.json("manifest.json")
    if not isinstance(manifest, list) or not manifest:
        raise InvalidArgument(f"{archive.path}: manifest.json must be a non-empty list of images")
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidArgument(f"{archive.path}: a manifest.json entry has no Config")
        layers = entry.get("Layers") or []
        tags = entry.get("RepoTags") or []
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise InvalidArgument(f"{archive.path}: manifest.json Layers must be a list of file names")
        if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
            raise InvalidArgument(f"{archive.path}: manifest.json RepoTags must be a list of names")
        yield ArchiveImage(archive.read(entry["Config"]), [archive.opener(n) for n in layers], list(tags))


def _verified_blob(archive: _Archive, desc: dict) -> bytes:
    data = archive.read(archive.blob(desc.get("digest")))
    if "sha256:" + hashlib.sha256(data).hexdigest() != desc["digest"]:
        raise InvalidArgument(f"{archive.path}: blob {desc['digest']} does not match its digest: the archive is "
                              "damaged")
    return data


def _oci_layout(archive: _Archive) -> Iterator[ArchiveImage]:
    index = archive.json("index.json")
    if not isinstance(index, dict):
        raise InvalidArgument(f"{archive.path}: index.json must be an object")
    for desc in _manifests(archive, index, {}):
        try:
            manifest = json.loads(_verified_blob(archive, desc))
        except ValueError:
            raise InvalidArgument(f"{archive.path}: manifest {desc['digest']} is not valid JSON") from None
        config = _verified_blob(archive, manifest["config"])
        layers = [archive.opener(archive.blob(layer["digest"])) for layer in manifest.get("layers") or []]
        ann = desc.get("annotations") or {}
        tags = []
        for key in NAME_ANNOTATIONS:
            name = ann.get(key)
            # org.opencontainers.image.ref.name is often a bare tag ("latest"): that names no repository
            if isinstance(name, str) and ("/" in name or ":" in name.rsplit("/", 1)[-1]):
                tags.append(name)
                break
        yield ArchiveImage(config, layers, tags)


def _manifests(archive: _Archive, index: dict, inherited: dict) -> list[dict]:
    """Image manifest descriptors of an index; for a multi-platform index, the host's platform only."""
    out: list[dict] = []
    for desc in index.get("manifests") or []:
        ann = desc.get("annotations") or inherited
        media = desc.get("mediaType", "")
        if media in (OCI_INDEX, DOCKER_LIST):
            nested = archive.json(archive.blob(desc.get("digest")))
            if not isinstance(nested, dict):
                raise InvalidArgument(f"{archive.path}: index {desc['digest']} must be an object")
            out += _manifests(archive, nested, ann)
        elif "platform" in desc:
            continue  # handled below, once per index
        else:
            out.append({**desc, "annotations": ann})
    candidates = [d for d in index.get("manifests") or [] if "platform" in d and
                  d.get("mediaType", "") not in (OCI_INDEX, DOCKER_LIST)]
    if len(candidates) == 1:  # a single-platform image is loaded whatever its platform, as Docker does
        d = candidates[0]
        out.append({**d, "annotations": d.get("annotations") or inherited})
    elif candidates:
        arch = host_architecture()
        for d in candidates:
            p = d.get("platform") or {}
            if p.get("os", "linux") == "linux" and p.get("architecture", arch) == arch:
                out.append({**d, "annotations": d.get("annotations") or inherited})
                break
        else:
            if not out:
                raise InvalidArgument(f"{archive.path}: the archive has no image for linux/{arch}")
    return out
