"""`image save`: images as one tar that Docker (old and new) and OCI tools load.

The layout is what Docker 25+ writes: an OCI image layout (`oci-layout`, `index.json`, blobs under
`blobs/sha256/`, one OCI manifest per image with uncompressed layers) plus the `manifest.json`
that `docker load` of every version reads. Shared layers are written once; entries carry a fixed
time so the same images always give the same archive.
"""
from __future__ import annotations

import io
import json
import sys
import tarfile

from engine.errors import InvalidArgument
from engine.images import reference
from engine.images.registry import media

_FIXED_TIME = 0


def _selection(store, refs: list[str]) -> list[tuple[str, list[str]]]:
    """[(image id, tags to record)] in the order first named; an image named by id records no tag."""
    out: dict[str, list[str]] = {}
    for ref in refs:
        image = store.get(ref)
        tags = out.setdefault(image.id, [])
        try:
            name = reference.normalize(ref)
        except InvalidArgument:
            name = None
        if name and name in image.repo_tags and name not in tags:
            tags.append(name)
    return list(out.items())


def save(store, refs: list[str], dest: str) -> None:
    """Write the archive of *refs* to the file *dest* ("-": standard output)."""
    if not refs:
        raise InvalidArgument("image save needs at least one image")
    chosen = _selection(store, refs)
    if dest == "-":
        if sys.stdout.isatty():
            raise InvalidArgument("refusing to write an image archive to a terminal: use -o FILE or redirect")
        tar = tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT)
    else:
        try:
            tar = tarfile.open(dest, "w", format=tarfile.PAX_FORMAT)
        except OSError as e:
            raise InvalidArgument(f"cannot write {dest}: {e.strerror}") from None
    with tar:
        _write(store, chosen, tar)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), _FIXED_TIME, 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mtime, info.mode = tarfile.DIRTYPE, _FIXED_TIME, 0o755
    tar.addfile(info)


def _write(store, chosen: list[tuple[str, list[str]]], tar: tarfile.TarFile) -> None:
    _add_dir(tar, "blobs")
    _add_dir(tar, "blobs/sha256")
    written: set[str] = set()

    def blob_from_store(digest: str) -> str:
        name = "blobs/sha256/" + digest[7:]
        if digest not in written:
            written.add(digest)
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = store.blobs.size(digest), _FIXED_TIME, 0o644
            with store.blobs.open(digest) as f:
                tar.addfile(info, f)
        return name

    def blob_bytes(data: bytes) -> tuple[str, str]:
        import hashlib

        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if digest not in written:
            written.add(digest)
            _add_bytes(tar, "blobs/sha256/" + digest[7:], data)
        return digest, "blobs/sha256/" + digest[7:]

    manifest_json = []
    index_entries = []
    for image_id, tags in chosen:
        image = store.get(image_id)
        config = store.blobs.read(image_id)
        layer_names = [blob_from_store(d) for d in image.layers]
        config_name = blob_from_store(image_id)
        manifest = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                    "config": {"mediaType": media.OCI_CONFIG, "digest": image_id, "size": len(config)},
                    "layers": [{"mediaType": media.OCI_LAYER, "digest": d, "size": store.blobs.size(d)}
                               for d in image.layers]}
        data = json.dumps(manifest, separators=(",", ":")).encode()
        digest, _ = blob_bytes(data)
        desc = {"mediaType": media.OCI_MANIFEST, "digest": digest, "size": len(data)}
        for tag in tags or [None]:
            if tag is None:
                index_entries.append(desc)
                continue
            ref = reference.parse(tag)
            full = f"{ref.registry}/{ref.path}:{ref.tag}"
            index_entries.append({**desc, "annotations": {"io.containerd.image.name": full,
                                                          "org.opencontainers.image.ref.name": ref.tag}})
        manifest_json.append({"Config": config_name, "RepoTags": tags or None, "Layers": layer_names})
    _add_bytes(tar, "index.json", json.dumps({"schemaVersion": 2, "mediaType": media.OCI_INDEX,
                                              "manifests": index_entries}).encode())
    _add_bytes(tar, "manifest.json", json.dumps(manifest_json).encode())
    _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
