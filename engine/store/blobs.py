"""The content-addressed blob store: ``blobs/sha256/<hex>``, written once, verified by name."""
from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

from engine.errors import InvalidArgument
from engine.paths import Paths


class BlobStore:
    def __init__(self, paths: Paths):
        self.dir = paths.blobs

    def path(self, digest: str) -> str:
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or len(hexd) != 64:
            raise InvalidArgument(f"invalid digest {digest!r}")
        return os.path.join(self.dir, hexd)

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def put_stream(self, src: BinaryIO, expect: str | None = None) -> tuple[str, int]:
        """Store what *src* yields; returns (digest, size). With *expect*, a mismatch is rejected."""
        os.makedirs(self.dir, exist_ok=True)
        tmp = os.path.join(self.dir, f".tmp-{os.getpid()}-{os.urandom(4).hex()}")
        h = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as out:
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
            if expect and expect != digest:
                raise InvalidArgument(f"content does not match its digest: expected {expect}, got {digest}")
            os.replace(tmp, self.path(digest))
            return digest, size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def put_bytes(self, data: bytes) -> str:
        import io

        return self.put_stream(io.BytesIO(data))[0]

    def read(self, digest: str) -> bytes:
        with open(self.path(digest), "rb") as f:
            return f.read()

    def remove(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass
