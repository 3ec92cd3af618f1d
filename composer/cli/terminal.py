"""Interactive sessions (`exec`, `run`, `attach` on a terminal): a pseudo-terminal for the container
process, our terminal in raw mode, bytes relayed both ways, window size kept in step (SIGWINCH).

In raw mode ^C is just a byte: it travels to the container's pty, whose line discipline turns it
into SIGINT for the process there, as `docker exec -it` does.
"""
from __future__ import annotations

import fcntl
import os
import select
import signal
import termios
import tty


def copy_window_size(src: int, dst: int) -> None:
    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def size() -> tuple[int, int] | None:
    """(rows, columns) of our terminal (stdin), for the container's pseudo-terminal; None if none."""
    try:
        data = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    return int.from_bytes(data[0:2], "little"), int.from_bytes(data[2:4], "little")


def relay(master: int, finished, interactive: bool = True) -> None:
    """Copy stdin to *master* and *master* to stdout until the process side is done: the pty hung up
    (every holder of the slave closed it) or *finished*() turns true (checked a few times a second).
    Without *interactive*, stdin is left alone (the process gets no input)."""
    restore = None
    if interactive and os.isatty(0):
        restore = termios.tcgetattr(0)
        tty.setraw(0)
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    old_wakeup = signal.set_wakeup_fd(wake_w)
    old_winch = signal.signal(signal.SIGWINCH, lambda *_: None)
    stdin_open = interactive
    try:
        copy_window_size(0, master)
        while True:
            watch = [master, wake_r] + ([0] if stdin_open else [])
            try:
                ready, _, _ = select.select(watch, [], [], 0.2)
            except InterruptedError:
                continue
            if wake_r in ready:
                os.read(wake_r, 512)
                copy_window_size(0, master)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    _write_all(master, data)
                else:
                    stdin_open = False
                    _write_all(master, b"\x04")  # end of input: the terminal's EOF character
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the slave side is closed everywhere
                    data = b""
                if not data:
                    return
                _write_all(1, data)
            elif not ready and finished():
                _drain(master)
                return
    finally:
        signal.signal(signal.SIGWINCH, old_winch)
        signal.set_wakeup_fd(old_wakeup)
        os.close(wake_r)
        os.close(wake_w)
        if restore is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, restore)


def _drain(master: int) -> None:
    while select.select([master], [], [], 0.05)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        _write_all(1, data)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]
