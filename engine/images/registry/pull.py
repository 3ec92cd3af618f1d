"""`pull`: a manifest (via an index, for this host's platform), its config, its layers, into the store.

Order of trust: the manifest is checked against the digest it was asked by (or the registry's
Docker-Content-Digest), the config and every layer blob against the manifest's digests, and each
layer, decompressed, against the config's diff ids. Only then is the image recorded. Layers are
fetched three at a time; a layer the store already has is not fetched at all.
"""
from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from engine.errors import EngineError, InvalidArgument, RegistryError
from engine.images import reference
from engine.images.config import host_architecture
from engine.images.distribution import Distribution
from engine.images.progress import Progress, ProgressEvent, quiet, short
from engine.images.registry import media
from engine.images.registry.client import Session
from engine.store.blobs import check_digest
from engine.types import ImageInfo

CONCURRENT_DOWNLOADS = 3


@dataclass
class PullResult:
    image: ImageInfo
    digest: str  # of the manifest or index the reference named
    reference: str  # the normalized reference pulled
    new: bool  # False when the image was up to date


def pull(store, ref_text: str, progress: Progress = quiet, platform: str | None = None) -> PullResult:
    ref = reference.parse(ref_text)
    name = reference.normalize(ref_text)
    os_name, _, arch = (platform or f"linux/{host_architecture()}").partition("/")
    arch, _, variant = arch.partition("/")
    session = Session(ref.registry, ref.path)
    try:
        progress(ProgressEvent(f"{ref.tag or ref.digest}: Pulling from {ref.path}" if ref.tag
                               else f"Pulling from {ref.path}"))
        _, kind, doc, top_digest = session.get_manifest(ref.digest or ref.tag or "latest")
        if kind in media.INDEXES:
            desc = media.select_platform(doc, os_name, arch, variant or media.host_variant(arch), name)
            _, kind, doc, _ = session.get_manifest(desc["digest"])
            if kind not in media.MANIFESTS:
                raise RegistryError(f"{name}: the index entry for {os_name}/{arch} is not an image manifest")
        try:
            config_digest = doc["config"]["digest"]
            layers = [(d["digest"], int(d.get("size") or 0), d.get("mediaType", "")) for d in doc.get("layers") or []]
            for digest in [config_digest, *(d for d, _, _ in layers)]:
                check_digest(digest)
        except (KeyError, TypeError, ValueError, InvalidArgument):
            raise RegistryError(f"{name}: malformed image manifest (a missing or invalid digest)") from None
        config = session.get_blob_bytes(config_digest)
        try:
            diff_ids = json.loads(config)["rootfs"]["diff_ids"]
        except (ValueError, KeyError, TypeError):
            raise RegistryError(f"{name}: malformed image config") from None
        if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
            raise RegistryError(f"{name}: the manifest has {len(layers)} layers but the config lists "
                                f"{len(diff_ids) if isinstance(diff_ids, list) else 'no'} diff ids")
        repo_digest = f"{ref.familiar_name}@{top_digest}"
        tags = [name] if ref.digest is None else []
        before = _existing(store, name)
        with store.adding():
            _fetch_layers(store, session, layers, diff_ids, progress, f"{ref.registry}/{ref.path}")
            info = store.add_image(config, [None] * len(layers), tags, [repo_digest], name)
    finally:
        session.close()
    new = before is None or before.id != info.id
    progress(ProgressEvent(f"Digest: {top_digest}"))
    progress(ProgressEvent(f"Status: {'Downloaded newer image' if new else 'Image is up to date'} for {name}"))
    return PullResult(info, top_digest, name, new)


def _existing(store, ref: str) -> ImageInfo | None:
    try:
        return store.get(ref)
    except EngineError:
        return None


def _fetch_layers(store, session: Session, layers: list[tuple[str, int, str]], diff_ids: list[str],
                  progress: Progress, repository: str) -> None:
    distribution = Distribution(store.paths)
    missing = []
    for (digest, size, media_type), diff_id in zip(layers, diff_ids):
        if store.blobs.has(diff_id):
            progress(ProgressEvent("Already exists", short(digest)))
            distribution.add(diff_id, digest, size, media_type, repository)
        elif (digest, diff_id) not in [(m[0], m[3]) for m in missing]:
            progress(ProgressEvent("Pulling fs layer", short(digest)))
            missing.append((digest, size, media_type, diff_id))
    if not missing:
        return

    failed = threading.Event()  # one layer failed: the others stop at their next chunk

    def tick(digest: str, size: int, n: int) -> None:
        if failed.is_set():
            raise _Cancelled()
        progress(ProgressEvent("Downloading", short(digest), n, size))

    def fetch(item: tuple[str, int, str, str]) -> None:
        digest, size, media_type, diff_id = item
        if failed.is_set():
            return
        tmp = os.path.join(store.blobs.dir, f".tmp-pull-{os.getpid()}-{os.urandom(4).hex()}")
        os.makedirs(store.blobs.dir, exist_ok=True)
        try:
            session.download_blob(digest, tmp, lambda n: tick(digest, size, n))
            progress(ProgressEvent("Download complete", short(digest)))
            progress(ProgressEvent("Extracting", short(digest)))
            with open(tmp, "rb") as f:
                try:
                    store.add_layer(f, diff_id)
                except EngineError as e:
                    raise RegistryError(f"layer {digest} does not hold the content its image names: {e}") from None
            distribution.add(diff_id, digest, size, media_type, repository)
            progress(ProgressEvent("Pull complete", short(digest)))
        except _Cancelled:
            pass
        except BaseException:
            failed.set()
            raise
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)

    with ThreadPoolExecutor(CONCURRENT_DOWNLOADS) as pool:
        futures = [pool.submit(fetch, item) for item in missing]
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


class _Cancelled(Exception):
    """Raised inside a download to stop it because another layer failed."""
