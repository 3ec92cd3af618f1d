"""`push`: an image's layers (gzip-compressed), config and manifest to a registry.

For each layer, what the registry may have already is tried first: a compressed form remembered
from an earlier pull or push (HEAD in this repository, or a cross-repository mount within the same
registry). Otherwise the layer is compressed (deterministically: the same layer always gives the
same blob, so pushing an image twice gives the same manifest digest), checked with HEAD, and
uploaded in one request or in chunks. The manifest is Docker's schema 2 when every layer is a
Docker media type, OCI otherwise.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from engine.errors import InvalidArgument
from engine.images import reference
from engine.images.distribution import Distribution
from engine.images.progress import Progress, ProgressEvent, quiet, short
from engine.images.registry import media
from engine.images.registry.client import Session

CONCURRENT_UPLOADS = 5
CHUNK_SIZE = 32 << 20  # COMPOSER_PUSH_CHUNK_SIZE overrides (tests use it to force chunks)
_OCI_OF = {media.DOCKER_LAYER_GZIP: media.OCI_LAYER + "+gzip"}


@dataclass
class PushResult:
    reference: str
    digest: str
    size: int  # of the manifest


def push(store, ref_text: str, progress: Progress = quiet, chunk_size: int | None = None) -> PushResult:
    chunk_size = chunk_size or int(os.environ.get("COMPOSER_PUSH_CHUNK_SIZE") or CHUNK_SIZE)
    ref = reference.parse(ref_text)
    if ref.digest:
        raise InvalidArgument(f"cannot push {ref_text}: push a name[:tag], not a digest")
    name = reference.normalize(ref_text)
    image = store.get(name)
    repository = f"{ref.registry}/{ref.path}"
    progress(ProgressEvent(f"The push refers to repository [{repository}]"))
    session = Session(ref.registry, ref.path, push=True)
    distribution = Distribution(store.paths)
    with store.adding():
        digest, data = _push(store, session, distribution, image, ref, repository, progress, chunk_size)
    store.add_repo_digest(image.id, f"{ref.familiar_name}@{digest}")
    progress(ProgressEvent(f"{ref.tag}: digest: {digest} size: {len(data)}"))
    return PushResult(name, digest, len(data))


def _push(store, session: Session, distribution: Distribution, image, ref, repository: str, progress: Progress,
          chunk_size: int) -> tuple[str, bytes]:
    try:
        with ThreadPoolExecutor(CONCURRENT_UPLOADS) as pool:
            futures = [pool.submit(_push_layer, store, session, distribution, diff_id, repository, progress,
                                   chunk_size) for diff_id in image.layers]
            errors = [f.exception() for f in futures]
        for e in errors:
            if e is not None:
                raise e
        descriptors = [f.result() for f in futures]
        config = store.blobs.read(image.id)
        if session.blob_size(image.id) is None:
            tmp = _temp_copy(store, config)
            try:
                session.upload_blob(tmp, image.id, len(config), chunk_size)
            finally:
                os.unlink(tmp)
        docker = all(d["mediaType"] == media.DOCKER_LAYER_GZIP for d in descriptors)
        if docker:
            manifest = {"schemaVersion": 2, "mediaType": media.DOCKER_MANIFEST,
                        "config": {"mediaType": media.DOCKER_CONFIG, "size": len(config), "digest": image.id},
                        "layers": descriptors}
        else:
            manifest = {"schemaVersion": 2, "mediaType": media.OCI_MANIFEST,
                        "config": {"mediaType": media.OCI_CONFIG, "size": len(config), "digest": image.id},
                        "layers": [{**d, "mediaType": _OCI_OF.get(d["mediaType"], d["mediaType"])}
                                   for d in descriptors]}
        data = json.dumps(manifest, indent=3).encode()
        digest = session.put_manifest(ref.tag or "latest", data, manifest["mediaType"])
    finally:
        session.close()
    return digest, data


def _temp_copy(store, data: bytes) -> str:
    os.makedirs(store.blobs.dir, exist_ok=True)
    tmp = os.path.join(store.blobs.dir, f".tmp-push-{os.getpid()}-{os.urandom(4).hex()}")
    with open(tmp, "wb") as f:
        f.write(data)
    return tmp


def _push_layer(store, session: Session, distribution: Distribution, diff_id: str, repository: str,
                progress: Progress, chunk_size: int) -> dict:
    tag = short(diff_id)
    progress(ProgressEvent("Preparing", tag))
    registry = session.registry + "/"
    for digest, entry in distribution.get(diff_id).items():
        desc = {"mediaType": entry["mediaType"], "size": entry["size"], "digest": digest}
        repos = entry.get("repositories") or []
        if repository in repos and session.blob_size(digest) is not None:
            progress(ProgressEvent("Layer already exists", tag))
            return desc
        for other in repos:
            if other.startswith(registry) and other != repository and \
                    session.mount_blob(digest, other[len(registry):]):
                distribution.add(diff_id, digest, entry["size"], entry["mediaType"], repository)
                progress(ProgressEvent(f"Mounted from {other[len(registry):]}", tag))
                return desc
    tmp, digest, size = _compress(store, diff_id)
    try:
        if session.blob_size(digest) is not None:
            progress(ProgressEvent("Layer already exists", tag))
        else:
            session.upload_blob(tmp, digest, size, chunk_size,
                                lambda n: progress(ProgressEvent("Pushing", tag, n, size)))
            progress(ProgressEvent("Pushed", tag))
    finally:
        os.unlink(tmp)
    distribution.add(diff_id, digest, size, media.DOCKER_LAYER_GZIP, repository)
    return {"mediaType": media.DOCKER_LAYER_GZIP, "size": size, "digest": digest}


class _Hashing:
    def __init__(self, f):
        self.f = f
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.h.update(data)
        self.size += len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


def _compress(store, diff_id: str) -> tuple[str, str, int]:
    """gzip the stored layer into a temporary file: (path, digest, size). No name or time in the header."""
    os.makedirs(store.blobs.dir, exist_ok=True)
    tmp = os.path.join(store.blobs.dir, f".tmp-push-{os.getpid()}-{os.urandom(4).hex()}")
    try:
        with open(tmp, "wb") as raw, store.blobs.open(diff_id) as src:
            out = _Hashing(raw)
            with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:  # type: ignore[arg-type]
                shutil.copyfileobj(src, gz, 1 << 20)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp, "sha256:" + out.h.hexdigest(), out.size
