"""The processes of a container as the host sees them, in `ps -ef` columns (`top`)."""
from __future__ import annotations

import os
import time

TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]


def _boot_time() -> float:
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _tty(nr: int) -> str:
    if nr == 0:
        return "?"
    major, minor = os.major(nr), os.minor(nr)
    if 136 <= major <= 143:
        return f"pts/{minor + (major - 136) * 256}"
    if major == 4:
        return f"tty{minor}"
    return "?"


def _clock(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    text = "%02d:%02d:%02d" % (rest // 3600, rest % 3600 // 60, rest % 60)
    return f"{days}-{text}" if days else text


def process_row(pid: int, hz: int, boot: float, now: float) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().rstrip(b"\0").split(b"\0")
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    ppid, tty_nr = int(fields[1]), int(fields[4])
    cpu = (int(fields[11]) + int(fields[12])) // hz
    started = boot + int(fields[19]) / hz
    elapsed = max(now - started, 1)
    stime = time.strftime("%H:%M" if now - started < 86400 else "%b%d", time.localtime(started))
    cmd = b" ".join(argv).decode(errors="replace") if argv != [b""] else f"[{comm}]"
    return [_user(uid), str(pid), str(ppid), str(int(cpu * 100 // elapsed)), stime, _tty(tty_nr), _clock(cpu), cmd]


def processes(pids: list[int]) -> list[list[str]]:
    hz = os.sysconf("SC_CLK_TCK")
    boot = _boot_time()
    now = time.time()
    rows = [process_row(pid, hz, boot, now) for pid in sorted(pids)]
    return [r for r in rows if r]
