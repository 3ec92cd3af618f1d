"""What an engine root holds on the host: used by tests to prove nothing of ours leaks."""
from __future__ import annotations

import os

from engine.paths import Paths


def _cmdlines() -> list[tuple[int, str]]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                out.append((int(entry), f.read().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            continue
    return out


def _links() -> list[str]:
    return os.listdir("/sys/class/net")


def leftovers(root: str) -> list[str]:
    """Everything the engine root at *root* still has on the host, as readable lines."""
    found: list[str] = []
    paths = Paths.open(root, create=False)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if root in fields[4] or root in line.split(" - ")[-1]:
                found.append(f"mount {fields[4]}")
    if paths.root_id:
        rid = paths.root_id
        for link in _links():
            if rid[:5] in link and link.startswith(("cb", "cv")):
                found.append(f"link {link}")
        for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
            for ctrl in [base, *[os.path.join(base, c) for c in os.listdir(base)]] if os.path.isdir(base) else []:
                if os.path.isdir(os.path.join(ctrl, paths.cgroup_parent)):
                    found.append(f"cgroup {os.path.join(ctrl, paths.cgroup_parent)}")
    me = os.getpid()
    for pid, cmd in _cmdlines():
        if pid != me and root in cmd:
            found.append(f"process {pid}: {cmd[:120]}")
    return found


def chain_rules(root_id: str, table: str, family: int = 4) -> list[str]:
    """The rules in the engine root's own chain of *table*, as iptables-save (ip6tables-save) prints
    them ([] without that chain)."""
    from engine.network import firewall

    have = firewall._read(family).get(table)
    return have.rules_in(firewall.chain_name(root_id)) if have else []
