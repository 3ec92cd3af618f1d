"""What a load looked at: the files it read or looked for (with their signatures), the text of what it
read, and the warnings it printed. One Recorder goes with each load session (composer/load/loader.py
passes it to every pass); composer/load/projectcache.py keys a remembered load by what it recorded.
``NOT_RECORDING`` only answers (a load that will not be remembered)."""
from __future__ import annotations

import os
import sys

from composer.errors import StackFileError

MAX_CHARS = 64 << 20  # a stack or env file is a few KB; this only stops /dev/zero and the like

# what a file that cannot be read is called in each kind's one-line error
_CANNOT = {
    "env file": ("env file not found", "env file is a directory", "cannot read env file: {}",
                 "env file is larger than {} MiB; refusing to read it"),
    "stack file": ("no such file", "is a directory, not a stack file", "cannot read: {}",
                   "larger than {} MiB; refusing to read it as a stack file"),
}


def signature(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_mode >> 12, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev


class Recorder:
    def __init__(self, recording: bool = True):
        self.recording = recording
        self.touched: dict[str, tuple | None] = {}  # path -> signature (None: absent)
        self.texts: list[str] = []
        self.warned: list[str] = []

    def seen(self, path: str) -> tuple | None:
        """Note that the load depends on *path* (read or looked for); its signature."""
        sig = signature(path)
        if self.recording and path not in self.touched:
            self.touched[path] = sig
        return sig

    def isfile(self, path: str) -> bool:
        sig = self.seen(path)
        return sig is not None and sig[0] == 0o10  # S_IFREG >> 12

    def exists(self, path: str) -> bool:
        return self.seen(path) is not None

    def read_text(self, text: str) -> None:
        """Note the text of a file the load read (variables named in it may matter)."""
        if self.recording:
            self.texts.append(text)

    def warn(self, message: str) -> None:
        print(message, file=sys.stderr)
        if self.recording:
            self.warned.append(message)


NOT_RECORDING = Recorder(recording=False)


def read_input(path: str, kind: str, recorder: "Recorder") -> str:
    """The text of a stack file or env file (*kind*), noted as seen by *recorder*; at most MAX_CHARS
    (a larger one, or one that cannot be read, is a StackFileError of one line)."""
    missing, directory, unreadable, too_big = _CANNOT[kind]
    recorder.seen(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_CHARS + 1)  # bounded: /dev/zero is a file name too
    except FileNotFoundError:
        raise StackFileError(f"{path}: {missing}") from None
    except IsADirectoryError:
        raise StackFileError(f"{path}: {directory}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StackFileError(f"{path}: {unreadable.format(e)}") from None
    if len(text) > MAX_CHARS:
        raise StackFileError(f"{path}: {too_big.format(MAX_CHARS >> 20)}")
    return text
