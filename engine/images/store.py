"""The image store: image records and tags over the blob store and the snapshot store.

An image is its config blob (its id is the config's sha256) plus its layers, stored once as
uncompressed blobs keyed by diff id and unpacked once into snapshots keyed by chain id.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import sys
from typing import BinaryIO

from engine.errors import Conflict, InvalidArgument, NotFound
from engine.images import reference
from engine.paths import Paths
from engine.snapshots.store import Snapshots, chain_ids
from engine.store.blobs import BlobStore
from engine.store.locks import file_lock
from engine.store.records import read_json, write_json
from engine.types import ImageInfo


def _open_maybe_compressed(f: BinaryIO) -> BinaryIO:
    """Uncompressed view of a gzip/zstd/plain stream (peeks at the magic bytes)."""
    head = f.read(4)
    rest = io.BufferedReader(_Prepend(head, f))
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=rest)  # type: ignore[return-value]
    if head == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError:
            raise InvalidArgument("zstd-compressed layers need the zstandard package") from None
        return zstandard.ZstdDecompressor().stream_reader(rest)
    return rest  # type: ignore[return-value]


class _Prepend(io.RawIOBase):
    def __init__(self, head: bytes, f: BinaryIO):
        self.head = head
        self.f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.f.read(len(b))
        b[:len(data)] = data
        return len(data)


class ImageStore:
    def __init__(self, paths: Paths):
        self.paths = paths
        self.blobs = BlobStore(paths)
        self.snapshots = Snapshots(paths)
        self.dir = paths.images
        self.lock_path = paths.lock("images")

    # -- records -----------------------------------------------------------------------
    def _record_path(self, image_id: str) -> str:
        return os.path.join(self.dir, image_id.split(":", 1)[1] + ".json")

    def _tags(self) -> dict[str, str]:
        return read_json(os.path.join(self.dir, "tags.json"), {}) or {}

    def _write_tags(self, tags: dict[str, str]) -> None:
        os.makedirs(self.dir, exist_ok=True)
        write_json(os.path.join(self.dir, "tags.json"), tags)

    def _records(self) -> list[dict]:
        if not os.path.isdir(self.dir):
            return []
        out = []
        for entry in sorted(os.listdir(self.dir)):
            if entry.endswith(".json") and entry != "tags.json":
                rec = read_json(os.path.join(self.dir, entry))
                if rec:
                    out.append(rec)
        return out

    def _info(self, rec: dict, tags: dict[str, str]) -> ImageInfo:
        config = json.loads(self.blobs.read(rec["id"]))
        return ImageInfo(id=rec["id"], repo_tags=sorted(t for t, i in tags.items() if i == rec["id"]),
                         created=config.get("created", ""), size=rec.get("size", 0),
                         config=config.get("config") or {}, layers=list(config["rootfs"]["diff_ids"]))

    def _resolve(self, ref: str) -> str:
        """The image id that *ref* (name[:tag], full id, or a unique id prefix) names."""
        tags = self._tags()
        text = ref[7:] if ref.startswith("sha256:") else ref
        if all(c in "0123456789abcdef" for c in text) and len(text) >= 4:
            ids = [r["id"] for r in self._records() if r["id"][7:].startswith(text)]
            if len(ids) == 1:
                return ids[0]
            if len(ids) > 1 and len(text) < 64:
                raise Conflict(f"image id prefix {ref} is ambiguous: give more digits")
        if ref.startswith("sha256:"):
            raise NotFound(f"no such image: {ref}")
        try:
            name = reference.normalize(ref)
        except InvalidArgument:
            raise NotFound(f"no such image: {ref}") from None
        if name not in tags:
            raise NotFound(f"no such image: {ref}")
        return tags[name]

    # -- queries -------------------------------------------------------------------------
    def get(self, ref: str) -> ImageInfo:
        image_id = self._resolve(ref)
        rec = read_json(self._record_path(image_id))
        if rec is None:
            raise NotFound(f"no such image: {ref}")
        return self._info(rec, self._tags())

    def list(self) -> list[ImageInfo]:
        tags = self._tags()
        out = [self._info(r, tags) for r in self._records()]
        out.sort(key=lambda i: i.created, reverse=True)
        return out

    def lowerdirs(self, image_id: str) -> list[str]:
        info = self.get(image_id)
        return self.snapshots.lowerdirs(info.layers)

    # -- adding ----------------------------------------------------------------------------
    def _add_layer(self, stream: BinaryIO, expect_diff_id: str | None = None) -> tuple[str, int]:
        """Store a layer uncompressed (its digest is its diff id); returns (diff_id, size)."""
        return self.blobs.put_stream(_open_maybe_compressed(stream), expect=expect_diff_id)

    def _commit(self, config_bytes: bytes, diff_ids: list[str], sizes: list[int], tags: list[str]) -> str:
        """Unpack missing snapshots, then record the image and its tags (under the store lock)."""
        from engine.snapshots.unpack import unpack

        for chain_id, diff_id in zip(chain_ids(diff_ids), diff_ids):
            def fill(target: str, diff_id=diff_id) -> None:
                with open(self.blobs.path(diff_id), "rb") as f:
                    unpack(f, target)

            self.snapshots.prepare(chain_id, fill)
        image_id = self.blobs.put_bytes(config_bytes)
        with file_lock(self.lock_path):
            os.makedirs(self.dir, exist_ok=True)
            write_json(self._record_path(image_id), {"id": image_id, "size": sum(sizes)})
            all_tags = self._tags()
            for t in tags:
                all_tags[t] = image_id
            self._write_tags(all_tags)
        return image_id

    def import_tarball(self, src: str, ref: str | None, changes: list[str]) -> ImageInfo:
        from engine.images.config import new_config

        tag = reference.normalize(ref) if ref else None
        config_probe: dict = {}
        from engine.images.config import apply_changes

        apply_changes(config_probe, changes)  # bad --change lines fail before any work
        try:
            f = sys.stdin.buffer if src == "-" else open(src, "rb")
        except OSError as e:
            raise InvalidArgument(f"cannot read {src}: {e.strerror}") from None
        with f:
            try:
                diff_id, size = self._add_layer(f)
            except (OSError, EOFError) as e:
                raise InvalidArgument(f"{src}: not a readable tarball: {e}") from None
        self._check_tar(diff_id, src)
        image_id = self._commit(new_config([diff_id], changes), [diff_id], [size], [tag] if tag else [])
        return self.get(image_id)

    def _check_tar(self, diff_id: str, src: str) -> None:
        import tarfile

        path = self.blobs.path(diff_id)
        try:
            with tarfile.open(path, "r:") as t:
                t.next()
        except tarfile.TarError:
            self.blobs.remove(diff_id)
            raise InvalidArgument(f"{src}: not a tar archive") from None

    def load_archive(self, path: str) -> list[str]:
        from engine.images.archive import read_archive

        lines = []
        for config_bytes, layers, tags in read_archive(path):
            config = json.loads(config_bytes)
            want = list(config.get("rootfs", {}).get("diff_ids") or [])
            if len(want) != len(layers):
                raise InvalidArgument(f"{path}: the image config lists {len(want)} layers, the archive has {len(layers)}")
            diff_ids, sizes = [], []
            for opener, expect in zip(layers, want):
                with opener() as stream:
                    diff_id, size = self._add_layer(stream, expect_diff_id=expect)
                diff_ids.append(diff_id)
                sizes.append(size)
            names = [reference.normalize(t) for t in tags]
            image_id = self._commit(config_bytes, diff_ids, sizes, names)
            lines += [f"Loaded image: {n}" for n in names] or [f"Loaded image ID: {image_id}"]
        return lines

    # -- tags and removal ------------------------------------------------------------------
    def tag(self, src: str, new_ref: str) -> None:
        image_id = self._resolve(src)
        name = reference.normalize(new_ref)
        with file_lock(self.lock_path):
            tags = self._tags()
            tags[name] = image_id
            self._write_tags(tags)

    def remove(self, ref: str, force: bool = False) -> list[str]:
        with file_lock(self.lock_path):
            image_id = self._resolve(ref)
            tags = self._tags()
            mine = sorted(t for t, i in tags.items() if i == image_id)
            by_id = ref.startswith("sha256:") or image_id[7:].startswith(ref)
            lines: list[str] = []
            if not by_id:
                name = reference.normalize(ref)
                del tags[name]
                lines.append(f"Untagged: {name}")
                if len(mine) > 1:
                    self._write_tags(tags)
                    return lines
            else:
                if len(mine) > 1 and not force:
                    raise Conflict(f"unable to delete {image_id[7:19]} (must be forced): image is referenced in "
                                   "multiple repositories")
                for t in mine:
                    del tags[t]
                    lines.append(f"Untagged: {t}")
            self._write_tags(tags)
            os.unlink(self._record_path(image_id))
            lines.append(f"Deleted: {image_id}")
            self._prune_unused_blobs()
        return lines

    def _prune_unused_blobs(self) -> None:
        keep_blobs: set[str] = set()
        keep_chains: set[str] = set()
        for rec in self._records():
            diff_ids = json.loads(self.blobs.read(rec["id"]))["rootfs"]["diff_ids"]
            keep_blobs.add(rec["id"])
            keep_blobs.update(diff_ids)
            keep_chains.update(chain_ids(diff_ids))
        if os.path.isdir(self.blobs.dir):
            for entry in os.listdir(self.blobs.dir):
                if not entry.startswith(".") and "sha256:" + entry not in keep_blobs:
                    self.blobs.remove("sha256:" + entry)
        self.snapshots.prune(keep_chains)
