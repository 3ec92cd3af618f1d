"""The image store: image records and tags over the blob store and the snapshot store.

An image is its config blob (the image id is the sha256 of the config bytes as stored) plus its
layers, each stored once as an *uncompressed* blob (so its digest is its diff id) and unpacked once
into a snapshot keyed by chain id. On disk, under ``paths.images``::

    <id hex>.json   one record per image: {"id", "size"}
    tags.json       {"busybox:latest": "sha256:...", ...}  (familiar names, as `docker images` shows)

Concurrency and crashes. Records and tags change under the `images` lock. Blobs and snapshots are
written before the record that uses them, and are garbage-collected by a scan of the records, so
the two must not overlap: every operation that adds content holds the `images-gc` lock *shared*
for its whole length, and the collector holds it *exclusively* (lock order: images-gc, then
images). A crash leaves at worst unreferenced blobs, snapshots or temporaries, which the next
collection (after any rm, or any failed add) deletes.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from engine.errors import Conflict, EngineError, InvalidArgument, NotFound
from engine.images import reference
from engine.paths import Paths
from engine.snapshots.store import Snapshots, chain_ids
from engine.store.blobs import BlobStore, check_digest
from engine.store.locks import file_lock
from engine.store.records import read_json, write_json
from engine.types import ImageInfo

_HEX = frozenset("0123456789abcdef")
MIN_PREFIX = 4


@dataclass
class _Staged:
    """An image whose blobs are stored, waiting for its snapshots and record."""

    image_id: str
    diff_ids: list[str]
    size: int
    tags: list[str]
    repo_digests: list[str] = field(default_factory=list)


class ImageStore:
    def __init__(self, paths: Paths):
        self.paths = paths
        self.blobs = BlobStore(paths)
        self.snapshots = Snapshots(paths)
        self.dir = paths.images
        self.lock_path = paths.lock("images")
        self.gc_lock_path = paths.lock("images-gc")

    # -- locks -----------------------------------------------------------------------------
    @contextmanager
    def _gc_lock(self, shared: bool, wait: bool = True) -> Iterator[bool]:
        """Holds the collector lock; yields False (holding nothing) if *wait* is off and it is busy."""
        os.makedirs(os.path.dirname(self.gc_lock_path), exist_ok=True)
        fd = os.open(self.gc_lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(fd, flags)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    @contextmanager
    def _adding(self) -> Iterator[None]:
        """Around any operation that stores content: if it fails, what it stored is collected."""
        ok = False
        try:
            with self._gc_lock(shared=True):
                yield
            ok = True
        finally:
            if not ok:
                try:
                    self.gc(wait=False)
                except (EngineError, OSError):
                    pass  # the next collection will do it

    # -- records ---------------------------------------------------------------------------
    def _record_path(self, image_id: str) -> str:
        return os.path.join(self.dir, image_id[len("sha256:"):] + ".json")

    def _tags(self) -> dict[str, str]:
        return read_json(os.path.join(self.dir, "tags.json"), {}) or {}

    def _write_tags(self, tags: dict[str, str]) -> None:
        os.makedirs(self.dir, exist_ok=True)
        write_json(os.path.join(self.dir, "tags.json"), tags)

    def _ids(self) -> list[str]:
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return sorted("sha256:" + n[:-5] for n in names
                      if n.endswith(".json") and len(n) == 69 and _HEX.issuperset(n[:-5]))

    def _info(self, image_id: str, tags: dict[str, str]) -> ImageInfo | None:
        rec = read_json(self._record_path(image_id))
        if rec is None:
            return None
        try:
            config = json.loads(self.blobs.read(image_id))
        except FileNotFoundError:
            return None
        return ImageInfo(id=image_id, repo_tags=sorted(t for t, i in tags.items() if i == image_id),
                         created=config.get("created", ""), size=int(rec.get("size", 0)),
                         config=config.get("config") or {}, layers=list(config["rootfs"]["diff_ids"]),
                         repo_digests=list(rec.get("repo_digests") or []), history=list(config.get("history") or []),
                         last_tag_time=rec.get("last_tag_time", ""))

    def _resolve(self, ref: str) -> tuple[str, bool]:
        """(image id, named by id?) for *ref*: name[:tag], `sha256:<id>`, or an id prefix of 4+ hex digits.

        As in Docker, a name wins over an id prefix that is spelled the same."""
        text = ref.strip()
        if not text.startswith("sha256:"):
            try:
                name = reference.normalize(text)
            except InvalidArgument:
                name = None
            if name is not None and "@" in name:
                for image_id in self._ids():
                    if name in ((read_json(self._record_path(image_id)) or {}).get("repo_digests") or []):
                        return image_id, False
            elif name is not None:
                image_id = self._tags().get(name)
                if image_id is not None:
                    return image_id, False
        hexpart = text.removeprefix("sha256:")
        if len(hexpart) >= MIN_PREFIX and _HEX.issuperset(hexpart):
            ids = [i for i in self._ids() if i[7:].startswith(hexpart)]
            if len(ids) == 1:
                return ids[0], True
            if len(ids) > 1:
                raise Conflict(f"image id prefix {ref!r} matches {len(ids)} images: give more digits")
        raise NotFound(f"no such image: {ref}")

    # -- queries ---------------------------------------------------------------------------
    def get(self, ref: str) -> ImageInfo:
        """The image named by name[:tag] (default tag latest), full id `sha256:...`, or unique id prefix."""
        image_id, _ = self._resolve(ref)
        info = self._info(image_id, self._tags())
        if info is None:
            raise NotFound(f"no such image: {ref}")
        return info

    def list(self) -> list[ImageInfo]:
        """Every image, newest first."""
        tags = self._tags()
        out = [i for i in (self._info(image_id, tags) for image_id in self._ids()) if i is not None]
        out.sort(key=lambda i: i.created, reverse=True)
        return out

    def lowerdirs(self, image_id: str) -> list[str]:
        """Absolute snapshot dirs of the image, TOP layer first (the order of overlayfs `lowerdir=`).

        A snapshot that has gone missing (a crash, a hand-deleted dir) is unpacked again from its blob."""
        info = self.get(image_id)
        chains = chain_ids(info.layers)
        if not all(self.snapshots.has(c) for c in chains):
            with self._gc_lock(shared=True):
                self._unpack(info.layers)
        return self.snapshots.lowerdirs(info.layers)

    # -- adding ----------------------------------------------------------------------------
    def _add_layer(self, stream: BinaryIO, expect_diff_id: str | None = None) -> tuple[str, int]:
        """Store a layer uncompressed (its digest is its diff id); returns (diff_id, size)."""
        from engine.snapshots.compression import DECOMPRESS_ERRORS, decompressed

        try:
            with decompressed(stream) as plain:
                return self.blobs.ingest(plain, expect=expect_diff_id)
        except (*DECOMPRESS_ERRORS, ValueError) as e:
            raise InvalidArgument(f"cannot read a layer: {e}") from None

    def _unpack(self, diff_ids: list[str]) -> None:
        from engine.snapshots.unpack import unpack

        parent = None
        for chain_id, diff_id in zip(chain_ids(diff_ids), diff_ids):
            def fill(target: str, diff_id: str = diff_id) -> None:
                with self.blobs.open(diff_id) as f:
                    unpack(f, target)

            self.snapshots.prepare(chain_id, fill, diff_id=diff_id, parent=parent)
            parent = chain_id

    def _commit(self, staged: list[_Staged]) -> list[ImageInfo]:
        """Unpack missing snapshots, then record the images and their tags (records first).
        Returns the images as recorded: read under the lock, since another process may remove
        them the moment it is released."""
        for s in staged:
            self._unpack(s.diff_ids)
        with file_lock(self.lock_path):
            os.makedirs(self.dir, exist_ok=True)
            for s in staged:
                old = read_json(self._record_path(s.image_id)) or {}
                digests = list(old.get("repo_digests") or [])
                digests += [d for d in s.repo_digests if d not in digests]
                rec = {"id": s.image_id, "size": s.size, "repo_digests": digests}
                from engine.images.config import now

                if s.tags or old.get("last_tag_time"):
                    rec["last_tag_time"] = now() if s.tags else old["last_tag_time"]
                write_json(self._record_path(s.image_id), rec)
            tags = self._tags()
            for s in staged:
                for t in s.tags:
                    tags[t] = s.image_id
            self._write_tags(tags)
            return [info for s in staged if (info := self._info(s.image_id, tags)) is not None]

    def import_tarball(self, src: str, ref: str | None = None, changes: list[str] | None = None) -> ImageInfo:
        """`docker import`: the root filesystem tarball *src* (a path, or "-" for stdin; plain or
        compressed) becomes a one-layer image, tagged *ref* if given, with Dockerfile-style *changes*."""
        from engine.images.config import apply_changes, new_config

        changes = list(changes or [])
        tag = reference.normalize(ref) if ref else None
        apply_changes({}, changes)  # bad --change lines fail before any work
        with self._adding():
            try:
                f = sys.stdin.buffer if src == "-" else open(src, "rb")
            except OSError as e:
                raise InvalidArgument(f"cannot read {src}: {e.strerror}") from None
            try:
                diff_id, size = self._add_layer(f)
            finally:
                if src != "-":
                    f.close()
            self._check_tar(diff_id, src)
            config = new_config([diff_id], changes, comment=f"Imported from {src}")
            image_id = self.blobs.put_bytes(config)
            (info,) = self._commit([_Staged(image_id, [diff_id], size, [tag] if tag else [])])
        return info

    @contextmanager
    def adding(self) -> Iterator[None]:
        """Hold across storing the parts of an image and `add_image`: nothing stored is collected
        meanwhile, and if the block fails, what it stored is."""
        with self._adding():
            yield

    def add_layer(self, stream: BinaryIO, diff_id: str) -> int:
        """Store a layer (compressed or not) that must have *diff_id*; returns its uncompressed size.
        Call inside `adding()`."""
        return self._add_layer(stream, expect_diff_id=diff_id)[1]

    def add_image(self, config: bytes, layers: list, tags: list[str], repo_digests: list[str],
                  source: str) -> ImageInfo:
        """Record the image of *config*; *layers* has an opener per layer, or None for one already
        stored. Call inside `adding()`."""
        staged = self._stage(config, layers, tags, source)
        staged.repo_digests = list(repo_digests)
        (info,) = self._commit([staged])
        return info

    def add_repo_digest(self, image_id: str, repo_digest: str) -> None:
        with file_lock(self.lock_path):
            rec = read_json(self._record_path(image_id))
            if rec is None:
                raise NotFound(f"no such image: {image_id}")
            digests = list(rec.get("repo_digests") or [])
            if repo_digest not in digests:
                rec["repo_digests"] = digests + [repo_digest]
                write_json(self._record_path(image_id), rec)

    def _check_tar(self, diff_id: str, src: str) -> None:
        import tarfile

        try:
            with tarfile.open(self.blobs.path(diff_id), "r:") as t:
                t.next()
        except (tarfile.TarError, EOFError):
            raise InvalidArgument(f"{src} is not a tar archive (plain, gzip, bzip2, xz or zstd): give a root "
                                  "filesystem tarball") from None

    def load_archive(self, path: str) -> list[str]:
        """`docker load -i`: every image of a `docker save` or OCI image-layout archive (a path, or "-"
        for stdin). All or nothing: a bad archive raises InvalidArgument and stores nothing.
        Returns Docker's lines: `Loaded image: name:tag`, or `Loaded image ID: sha256:...` if untagged."""
        from engine.images.archive import read_archive

        with self._adding():
            spooled = self._spool(path) if path == "-" or not _seekable(path) else None
            try:
                staged: list[_Staged] = []
                for image in read_archive(spooled or path):
                    staged.append(self._stage(image.config, image.layers, image.tags, path))
                if not staged:
                    raise InvalidArgument(f"{path}: the archive holds no image")
                self._commit(staged)
            finally:
                if spooled:
                    os.unlink(spooled)
        lines: list[str] = []
        for s in staged:
            lines += [f"Loaded image: {t}" for t in s.tags] or [f"Loaded image ID: {s.image_id}"]
        return lines

    def _spool(self, path: str) -> str:
        """Stdin ("-") or a pipe, FIFO or /dev/stdin (archives are read with seeks) copied to a file."""
        os.makedirs(self.blobs.dir, exist_ok=True)
        # named like a blob temporary, so a crash leaves nothing the collector does not remove
        tmp = os.path.join(self.blobs.dir, f".tmp-load-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            with open(tmp, "wb") as out:
                if path == "-":
                    shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
                else:
                    with open(path, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
        except OSError as e:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise InvalidArgument(f"cannot read {path}: {e.strerror}") from None
        return tmp

    def _stage(self, config_bytes: bytes, layers: list, tags: list[str], path: str) -> _Staged:
        try:
            config = json.loads(config_bytes)
            diff_ids = config["rootfs"]["diff_ids"]
            if not isinstance(diff_ids, list):
                raise TypeError("diff_ids is not a list")
            for d in diff_ids:
                check_digest(d)
        except (ValueError, KeyError, TypeError, InvalidArgument) as e:
            raise InvalidArgument(f"{path}: an image config is not valid ({type(e).__name__}: {e})") from None
        if len(diff_ids) != len(layers):
            raise InvalidArgument(f"{path}: an image config lists {len(diff_ids)} layers but the archive has "
                                  f"{len(layers)}: the archive is damaged")
        try:
            names = [reference.normalize(t) for t in tags]
        except InvalidArgument as e:
            raise InvalidArgument(f"{path}: {e}") from None
        size = 0
        for opener, expect in zip(layers, diff_ids):
            if opener is None:  # stored already (a pull fetched and checked it)
                if not self.blobs.has(expect):
                    raise InvalidArgument(f"{path}: layer {expect} is missing from the store")
                size += self.blobs.size(expect)
                continue
            with opener() as stream:
                try:
                    _, n = self._add_layer(stream, expect_diff_id=expect)
                except InvalidArgument as e:
                    raise InvalidArgument(f"{path}: layer {expect[7:19]}: {e}") from None
            size += n
        image_id = self.blobs.put_bytes(config_bytes)
        return _Staged(image_id, list(diff_ids), size, names)

    # -- tags and removal ------------------------------------------------------------------
    def tag(self, src: str, new_ref: str) -> None:
        """Make *new_ref* (normalized) name the image *src* names; it stops naming any other image."""
        name = reference.normalize(new_ref)
        if "@" in name:
            raise InvalidArgument(f"cannot tag with a digest reference {new_ref!r}: give name[:tag]")
        with file_lock(self.lock_path):
            image_id, _ = self._resolve(src)
            tags = self._tags()
            tags[name] = image_id
            self._write_tags(tags)

    def remove(self, ref: str, force: bool = False) -> list[str]:
        """`docker rmi` semantics. By name: untag; the image is deleted with its last tag. By id: the
        image is deleted with all its tags, which needs *force* if it has several.
        Returns `Untagged: name` / `Deleted: sha256:...` lines."""
        with file_lock(self.lock_path):
            image_id, by_id = self._resolve(ref)
            tags = self._tags()
            mine = sorted(t for t, i in tags.items() if i == image_id)
            lines: list[str] = []
            if not by_id:
                name = reference.normalize(ref)
                lines.append(f"Untagged: {name}")
                if "@" in name:  # a repo digest: the image goes only if no tag names it
                    if mine:
                        rec = read_json(self._record_path(image_id)) or {}
                        rec["repo_digests"] = [d for d in rec.get("repo_digests") or [] if d != name]
                        write_json(self._record_path(image_id), rec)
                        return lines
                else:
                    del tags[name]
                    if len(mine) > 1:
                        self._write_tags(tags)
                        return lines
            else:
                if len(mine) > 1 and not force:
                    raise Conflict(f"unable to delete {image_id[7:19]} (must be forced): image is referenced in "
                                   f"multiple repositories ({', '.join(mine)}); remove by name or use force")
                for t in mine:
                    del tags[t]
                    lines.append(f"Untagged: {t}")
            self._write_tags(tags)
            try:
                os.unlink(self._record_path(image_id))
            except FileNotFoundError:
                pass
            lines.append(f"Deleted: {image_id}")
        self.gc()
        return lines

    def gc(self, wait: bool = True) -> bool:
        """Delete blobs and snapshots no image uses, and leftovers of writers that died.

        Waits for operations that are adding content unless *wait* is off (then returns False if
        one is running, having done nothing)."""
        with self._gc_lock(shared=False, wait=wait) as held:
            if not held:
                return False
            keep_blobs: set[str] = set()
            keep_chains: set[str] = set()
            for image_id in self._ids():
                keep_blobs.add(image_id)
                try:
                    diff_ids = json.loads(self.blobs.read(image_id))["rootfs"]["diff_ids"]
                except (FileNotFoundError, ValueError, KeyError, TypeError):
                    continue  # its config is gone: its layers are unknown, they go with the rest
                keep_blobs.update(diff_ids)
                keep_chains.update(chain_ids(diff_ids))
            from engine.images.build.cache import referenced_layers

            for diff_ids in referenced_layers(self.paths):  # the build cache's layers
                keep_blobs.update(diff_ids)
                keep_chains.update(chain_ids(diff_ids))
            for digest in self.blobs.list():
                if digest not in keep_blobs:
                    self.blobs.remove(digest)
            self.blobs.remove_temp_files()
            self.snapshots.prune(keep_chains, temporaries=True)
            from engine.images.distribution import Distribution

            Distribution(self.paths).prune(keep_blobs)
        return True


def _seekable(path: str) -> bool:
    """A regular file (or a missing one, for read_archive's own error); not a pipe, FIFO or terminal."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True
