"""The content-addressed blob store: ``blobs/sha256/<hex>``, each blob written once, named by its digest.

A blob is hashed while it is copied into a temporary file inside the store, then renamed to its
digest, so a reader never sees a partial blob and a crash leaves at most a `.tmp-*` file that
`remove_temp_files` (run by the garbage collector) deletes. Putting the same content twice is a no-op.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
from typing import BinaryIO

from engine.errors import InvalidArgument
from engine.paths import Paths

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TEMP_PREFIX = ".tmp-"


def check_digest(digest: str) -> str:
    """*digest* itself when it is a well-formed `sha256:<64 hex>` digest; InvalidArgument otherwise."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise InvalidArgument(f"invalid digest {digest!r}: expected sha256: followed by 64 lowercase hex digits")
    return digest


class BlobStore:
    def __init__(self, paths: Paths):
        self.dir = paths.blobs

    def path(self, digest: str) -> str:
        return os.path.join(self.dir, check_digest(digest)[7:])

    def has(self, digest: str) -> bool:
        return os.path.isfile(self.path(digest))

    def size(self, digest: str) -> int:
        return os.stat(self.path(digest)).st_size

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def ingest(self, src: BinaryIO, expect: str | None = None) -> tuple[str, int]:
        """Store what *src* yields; returns (digest, size). With *expect*, other content is refused."""
        if expect is not None:
            check_digest(expect)
        os.makedirs(self.dir, exist_ok=True)
        tmp = os.path.join(self.dir, f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(4).hex()}")
        h = hashlib.sha256()
        size = 0
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "wb") as out:
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = "sha256:" + h.hexdigest()
            if expect is not None and expect != digest:
                raise InvalidArgument(f"content does not match its digest: expected {expect}, got {digest}")
            final = self.path(digest)
            if not os.path.isfile(final):
                os.replace(tmp, final)
                _fsync_dir(self.dir)
            return digest, size
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)

    def put_stream(self, src: BinaryIO, expect: str | None = None) -> str:
        """Store what *src* yields; returns its digest `sha256:<hex>`."""
        return self.ingest(src, expect)[0]

    def put_file(self, path: str, expect: str | None = None) -> str:
        with open(path, "rb") as f:
            return self.put_stream(f, expect)

    def put_bytes(self, data: bytes, expect: str | None = None) -> str:
        return self.put_stream(io.BytesIO(data), expect)

    def list(self) -> list[str]:
        """Digests of every stored blob."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return ["sha256:" + n for n in names if not n.startswith(".") and len(n) == 64]

    def remove(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def remove_temp_files(self) -> None:
        """Delete temporaries left by writers that died; only call when no writer is running."""
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return
        for n in names:
            if n.startswith(TEMP_PREFIX):
                try:
                    os.unlink(os.path.join(self.dir, n))
                except FileNotFoundError:
                    pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
