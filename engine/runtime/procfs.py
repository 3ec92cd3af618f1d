"""The last mount steps inside the container's new root (stdlib only): namespaced sysctls, then
Docker's masked and read-only /proc and /sys paths, then a read-only root filesystem if asked."""
from __future__ import annotations

import os

from engine.runtime import syscalls as sc
from engine.runtime.initerror import InitError

# hidden behind /dev/null (files) or an empty read-only tmpfs (directories), as Docker does
MASKED = ("/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
          "/sys/devices/virtual/powercap")
READ_ONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


class HardenError(Exception):
    pass


def write_sysctls(sysctls: dict) -> None:
    for key, value in (sysctls or {}).items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(str(value))
        except OSError as e:
            raise HardenError(f"cannot set sysctl {key}={value}: {e.strerror}") from None


def mask(path: str) -> None:
    if not os.path.lexists(path):
        return
    if os.path.isdir(path):
        sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, None)
    else:
        sc.mount("/dev/null", path, None, sc.MS_BIND)


def make_read_only(path: str) -> None:
    if not os.path.lexists(path):
        return
    sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
    sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID
             | sc.MS_NODEV | sc.MS_NOEXEC)


def harden(cfg: dict) -> None:
    """Runs as the container's root, inside its root, before the process is confined."""
    try:
        write_sysctls(cfg.get("sysctls") or {})
    except HardenError as e:
        raise InitError(str(e), 125) from None
    if not cfg.get("privileged") and cfg.get("systempaths", True):
        for path in MASKED:
            mask(path)
        for path in READ_ONLY:
            make_read_only(path)
    if cfg.get("read_only"):
        sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
