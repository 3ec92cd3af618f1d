"""Linux capabilities: names, Docker's default set, and the sets a container process gets. Stdlib only."""
from __future__ import annotations

NAMES = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
         "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
         "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
         "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
         "CHECKPOINT_RESTORE")
BIT = {name: i for i, name in enumerate(NAMES)}

# what Docker grants unless told otherwise: CapEff 00000000a80425fb
DEFAULT = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
           "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")


class CapabilityError(ValueError):
    pass


def canonical(name: str) -> str:
    """"cap_net_admin", "NET_ADMIN" -> "NET_ADMIN"; "all" -> "ALL"; unknown names raise CapabilityError."""
    up = str(name).strip().upper()
    if up.startswith("CAP_"):
        up = up[4:]
    if up != "ALL" and up not in BIT:
        raise CapabilityError(f"unknown capability: {name!r}")
    return up


def mask_of(names) -> int:
    mask = 0
    for name in names:
        mask |= 1 << BIT[name]
    return mask


def host_mask() -> int:
    """Every capability this host's kernel knows, as far as our own bounding set allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return (1 << len(NAMES)) - 1


def resolve(cap_add, cap_drop, privileged: bool = False) -> int:
    """The bounding set of a container, Docker's way: privileged or cap_add ALL start from every
    capability; cap_drop ALL from none; then the named additions and removals."""
    add = [canonical(c) for c in cap_add or []]
    drop = [canonical(c) for c in cap_drop or []]
    if privileged:
        return host_mask()
    if "ALL" in add:
        mask = host_mask()
    elif "ALL" in drop:
        mask = 0
    else:
        mask = mask_of(DEFAULT)
    mask &= ~mask_of(c for c in drop if c != "ALL")
    mask |= mask_of(c for c in add if c != "ALL" and c not in drop)
    return mask & host_mask()  # a capability the host itself lacks cannot be handed on


def names_of(mask: int) -> list[str]:
    return [name for i, name in enumerate(NAMES) if mask >> i & 1]
