"""Firewall rules of our own, only where the host needs them.

When br_netfilter is loaded (as Docker does), frames crossing a Linux bridge go through iptables'
FORWARD chain, and a host whose FORWARD policy is DROP (Docker sets that) would drop the traffic
between two containers of one of our bridges. Then each engine root keeps one chain of its own,
``COMPOSER-<root_id>``, jumped to from FORWARD, holding one ACCEPT rule per bridge. Nothing else of
the host's rules is touched; the chain and its jump go away with the root's last bridge.
"""
from __future__ import annotations

import shutil
import subprocess

from engine.errors import EngineError

_BR_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"
LOCK = "/run/composer/firewall.lock"


def bridged_traffic_filtered() -> bool:
    try:
        with open(_BR_NF) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    exe = shutil.which("iptables")
    if exe is None:
        raise EngineError("bridged traffic is filtered by iptables on this host (br_netfilter), but the iptables "
                          "command is missing: install the iptables package")
    res = subprocess.run([exe, "-w", *args], capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise EngineError(f"iptables {' '.join(args)}: {res.stderr.strip() or res.returncode}")
    return res


def chain_name(root_id: str) -> str:
    return f"COMPOSER-{root_id}"


def _locked():
    """One firewall change at a time on this host (two networks of one root share its chain)."""
    from engine.store.locks import file_lock

    return file_lock(LOCK)


def allow_bridge(root_id: str, bridge: str) -> None:
    """Accept forwarding inside *bridge* (idempotent). A no-op where bridged traffic is not filtered."""
    if not bridged_traffic_filtered():
        return
    with _locked():
        _allow(root_id, bridge)


def _allow(root_id: str, bridge: str) -> None:
    chain = chain_name(root_id)
    if _iptables("-n", "-L", chain, check=False).returncode != 0:
        _iptables("-N", chain)
    if _iptables("-C", "FORWARD", "-j", chain, check=False).returncode != 0:
        _iptables("-I", "FORWARD", "1", "-j", chain)
    rule = ("-i", bridge, "-o", bridge, "-j", "ACCEPT")
    if _iptables("-C", chain, *rule, check=False).returncode != 0:
        _iptables("-A", chain, *rule)


def forget_bridge(root_id: str, bridge: str) -> None:
    """Remove the bridge's rule; with the root's last rule, the chain and its jump go too."""
    if shutil.which("iptables") is None:
        return
    with _locked():
        _forget(root_id, bridge)


def _forget(root_id: str, bridge: str) -> None:
    chain = chain_name(root_id)
    if _iptables("-n", "-L", chain, check=False).returncode != 0:
        return
    rule = ("-i", bridge, "-o", bridge, "-j", "ACCEPT")
    while _iptables("-C", chain, *rule, check=False).returncode == 0:
        _iptables("-D", chain, *rule)
    listing = _iptables("-S", chain, check=False).stdout.splitlines()
    if len([ln for ln in listing if ln.startswith("-A ")]) == 0:
        while _iptables("-C", "FORWARD", "-j", chain, check=False).returncode == 0:
            _iptables("-D", "FORWARD", "-j", chain)
        _iptables("-X", chain, check=False)
