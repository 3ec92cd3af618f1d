"""Taking back what a failed or finished operation made, without hiding the error being handled."""
from __future__ import annotations

import contextlib
import os
import shutil
from typing import Iterator

from engine.errors import quietly

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.volumes.local import Volumes


def rmtree(path: str) -> None:
    """Remove a directory tree, read-only leftovers included."""
    try:
        shutil.rmtree(path)
    except OSError:
        # a read-only or busy leftover: make it writable and try once more
        for dirpath, dirnames, _ in os.walk(path):
            for d in dirnames:
                quietly(lambda d=d: os.chmod(os.path.join(dirpath, d), 0o700))
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def undo_volumes(volumes: Volumes, names: list[str]) -> Iterator[None]:
    """Removes the volumes named in *names* (filled in by the block) if the block fails."""
    try:
        yield
    except BaseException:
        for name in names:
            quietly(lambda name=name: volumes.remove(name))
        raise
