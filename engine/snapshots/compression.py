"""Layer streams compressed or not: the kind is told by the first bytes, never by a name or media type.

gzip, bzip2 and xz come from the standard library; zstd from the `zstandard` package when it is
installed, otherwise from the `zstd` program (Debian's zstd package).
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import shutil
import subprocess
import threading
import zlib
from typing import BinaryIO

from engine.errors import InvalidArgument

GZIP = b"\x1f\x8b"
BZIP2 = b"BZh"
XZ = b"\xfd7zXZ\x00"
ZSTD = b"\x28\xb5\x2f\xfd"

# what reading a damaged compressed stream may raise (gzip.BadGzipFile and bz2's errors are OSErrors)
DECOMPRESS_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error, lzma.LZMAError)


class _Prepend(io.RawIOBase):
    """*head* (bytes already read) followed by the rest of *f*."""

    def __init__(self, head: bytes, f: BinaryIO):
        self.head = head
        self.f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(b), len(self.head))
            b[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.f.read(len(b))
        b[:len(data)] = data
        return len(data)


def _read_head(f: BinaryIO, n: int) -> bytes:
    head = b""
    while len(head) < n:
        chunk = f.read(n - len(head))
        if not chunk:
            break
        head += chunk
    return head


def kind(head: bytes) -> str:
    """`gzip`, `bzip2`, `xz`, `zstd` or `plain` from a stream's first bytes (6 are enough)."""
    if head.startswith(GZIP):
        return "gzip"
    if head.startswith(ZSTD):
        return "zstd"
    if head.startswith(XZ):
        return "xz"
    if head.startswith(BZIP2):
        return "bzip2"
    return "plain"


def decompressed(f: BinaryIO) -> BinaryIO:
    """An uncompressed view of the stream *f* (read sequentially; closing it does not close *f*)."""
    head = _read_head(f, 6)
    whole = io.BufferedReader(_Prepend(head, f), 1 << 16)
    k = kind(head)
    if k == "gzip":
        return gzip.GzipFile(fileobj=whole, mode="rb")  # type: ignore[return-value]
    if k == "bzip2":
        return bz2.BZ2File(whole)  # type: ignore[return-value]
    if k == "xz":
        return lzma.LZMAFile(whole)  # type: ignore[return-value]
    if k == "zstd":
        return _zstd(whole)
    return whole  # type: ignore[return-value]


def _zstd(src: BinaryIO) -> BinaryIO:
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        zstandard = None
    if zstandard is not None:
        return zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True)
    program = shutil.which("zstd")
    if program is None:
        raise InvalidArgument("this layer is zstd-compressed: install the zstd program or the zstandard package")
    return _ProgramReader([program, "-d", "-c", "-q"], src)


class _ProgramReader(io.RawIOBase):
    """The output of a filter program fed from *src* by a thread; a failure of the program raises on EOF."""

    def __init__(self, argv: list[str], src: BinaryIO):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.src = src
        self.feeder = threading.Thread(target=self._feed, daemon=True)
        self.feeder.start()

    def _feed(self) -> None:
        assert self.proc.stdin is not None
        try:
            while True:
                chunk = self.src.read(1 << 20)
                if not chunk:
                    break
                self.proc.stdin.write(chunk)
        except (BrokenPipeError, ValueError, OSError):
            pass
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        assert self.proc.stdout is not None
        n = self.proc.stdout.readinto(b)
        if not n:
            self._finish(check=True)
            return 0
        return n

    def _finish(self, check: bool) -> None:
        if self.proc.returncode is None:
            if not check:
                self.proc.kill()
            self.proc.wait()
            self.feeder.join()
        if check and self.proc.returncode != 0:
            err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace").strip()
            raise InvalidArgument(f"cannot decompress a zstd layer: {err.splitlines()[-1] if err else 'zstd failed'}")

    def close(self) -> None:
        if not self.closed:
            self._finish(check=False)
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()
        super().close()
