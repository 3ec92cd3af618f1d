"""A container's terminal: a pseudo-terminal of the container's own devpts instance, handed out by
its master side (runc's console socket, in a few lines). Stdlib only, C modules only: it runs in the
monitor's child after pivot_root and in exec's helper after setns, where the host's files are out of
reach and `socket`'s import of enum would cost memory.

The pty is opened from inside the container's mount namespace, so its slave is the container's
/dev/pts/N: ttyname(3) works there (`tty`, sudo, ssh, script, screen); a pty of the host's devpts
would be a device the container's /dev/pts does not hold.
"""
from __future__ import annotations

import fcntl
import os
import stat
import termios

import _socket

# <asm-generic/ioctls.h> (x86_64, arm64)
TIOCSPTLCK = 0x40045431  # unlock the slave (unlockpt)
TIOCGPTPEER = 0x5441  # open the slave of this master, without a path lookup (Linux 4.13)
UNIX98_PTY_SLAVE_MAJORS = range(136, 144)


class ConsoleError(Exception):
    """No terminal could be made or handed over (one line, for the user)."""


def open_pty(size: tuple[int, int] | None = None) -> tuple[int, int]:
    """(master, slave) of a new pty of the devpts mounted at /dev/pts of our current root. The slave
    comes from the master itself (TIOCGPTPEER), not from a name the container could have swapped."""
    try:
        master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as e:
        raise ConsoleError(f"cannot allocate a pseudo-terminal in the container: /dev/pts/ptmx: "
                           f"{e.strerror}") from None
    try:
        fcntl.ioctl(master, TIOCSPTLCK, b"\0\0\0\0")
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        # a file the container mounted there could answer the ioctl with any number (one of our own
        # descriptors): the slave must be a pty slave of the very devpts instance the master is on
        st, mst = os.fstat(slave), os.fstat(master)
        if not (stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) in UNIX98_PTY_SLAVE_MAJORS
                and st.st_dev == mst.st_dev and slave > 2):
            raise ConsoleError("cannot allocate a pseudo-terminal in the container: its /dev/pts/ptmx is not "
                               "the multiplexer of its devpts")
        if size and size[0] and size[1]:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, bytes(_winsize(*size)))
    except ConsoleError:
        os.close(master)
        raise
    except OSError as e:
        os.close(master)
        raise ConsoleError(f"cannot allocate a pseudo-terminal in the container: {e.strerror}") from None
    return master, slave


def _winsize(rows: int, cols: int) -> bytearray:
    out = bytearray(8)
    out[0:2] = rows.to_bytes(2, "little")
    out[2:4] = cols.to_bytes(2, "little")
    return out


def become_terminal(slave: int) -> None:
    """*slave* on 0, 1 and 2, and the controlling terminal of a new session led by this process
    (so ^C typed into the master reaches it as SIGINT)."""
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def send_master(sock: int, master: int) -> None:
    """Hand *master* over the unix socket *sock* (SCM_RIGHTS)."""
    s = _socket.socket(fileno=os.dup(sock))
    try:
        s.sendmsg([b"T"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, master.to_bytes(4, "little", signed=True))])
    finally:
        s.close()


def send_error(sock: int, message: str) -> None:
    os.write(sock, b"E" + message.encode(errors="replace")[:4000])


def receive_master(sock: int) -> int:
    """The master sent by `send_master` over *sock*; ConsoleError with the sender's reason if none came."""
    s = _socket.socket(fileno=os.dup(sock))
    try:
        while True:
            try:
                data, ancillary, _, _ = s.recvmsg(4096, _socket.CMSG_SPACE(4))
                break
            except InterruptedError:
                continue
    finally:
        s.close()
    fds = [int.from_bytes(d[:4], "little", signed=True) for level, kind, d in ancillary
           if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(d) >= 4]
    if data[:1] == b"T" and fds:
        os.set_inheritable(fds[0], False)
        return fds[0]
    for fd in fds:
        os.close(fd)
    reason = data[1:].decode(errors="replace") if data[:1] == b"E" else "the process ended before it had a terminal"
    raise ConsoleError(reason or "no pseudo-terminal came from the container")


def socket_pair() -> tuple[int, int]:
    """Two connected unix stream sockets (close-on-exec): ours, theirs."""
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC, 0)
    return a.detach(), b.detach()
