"""Firewall rules of our own: bridged traffic, forwarding out of our bridges, outbound NAT.

Each engine root keeps one chain of its own, ``COMPOSER-<root_id>``, in the filter table (jumped
to from FORWARD) and, for NAT, one of the same name in the nat table (jumped to from POSTROUTING).
Every rule in them names one of the root's bridges, so a bridge's rules are found and removed by
its name; with the root's last rule a chain and its jump go too. Nothing else of the host's rules is
touched: no flush, no policy change.

Per bridge:
- ``-i BR -o BR -j ACCEPT`` where br_netfilter makes frames crossing a bridge pass through FORWARD
  (a host whose FORWARD policy is DROP, as Docker sets it, would drop them otherwise);
- a network with a way out (not ``internal``): ``-i BR ! -o BR -j ACCEPT``, ``-o BR -m conntrack
  --ctstate RELATED,ESTABLISHED -j ACCEPT`` and, in nat, ``-s SUBNET ! -o BR -j MASQUERADE``;
  IPv4 forwarding is switched on (as Docker does; it is left on);
- an internal network: ``-i BR ! -o BR -j DROP`` and ``-o BR ! -i BR -j DROP``.
Outbound NAT needs the iptables command (scripts/install.sh installs it); without it a network has
no way out, and says so only where bridged traffic is filtered (then it is needed for any traffic).
"""
from __future__ import annotations

import shutil
import subprocess

from engine.errors import EngineError

_BR_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"
_IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
LOCK = "/run/composer/firewall.lock"


def bridged_traffic_filtered() -> bool:
    try:
        with open(_BR_NF) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def available() -> bool:
    return shutil.which("iptables") is not None


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


_HOOK = {"filter": "FORWARD", "nat": "POSTROUTING"}


def _ensure_chain(table: str, chain: str) -> None:
    if _iptables("-t", table, "-n", "-L", chain, check=False).returncode != 0:
        res = _iptables("-t", table, "-N", chain, check=False)
        if res.returncode != 0 and _iptables("-t", table, "-n", "-L", chain, check=False).returncode != 0:
            raise EngineError(f"iptables -t {table} -N {chain}: {res.stderr.strip()}")
    if _iptables("-t", table, "-C", _HOOK[table], "-j", chain, check=False).returncode != 0:
        _iptables("-t", table, "-I", _HOOK[table], "1", "-j", chain)


def _add(table: str, chain: str, rule: tuple[str, ...]) -> None:
    if _iptables("-t", table, "-C", chain, *rule, check=False).returncode != 0:
        _iptables("-t", table, "-A", chain, *rule)


def bridge_rules(bridge: str, subnet: str, internal: bool) -> dict[str, list[tuple[str, ...]]]:
    """The rules one bridge needs on this host, per table."""
    rules: dict[str, list[tuple[str, ...]]] = {"filter": [], "nat": []}
    if bridged_traffic_filtered():
        rules["filter"].append(("-i", bridge, "-o", bridge, "-j", "ACCEPT"))
    if internal:
        rules["filter"] += [("-i", bridge, "!", "-o", bridge, "-j", "DROP"),
                            ("-o", bridge, "!", "-i", bridge, "-j", "DROP")]
    elif available():
        rules["filter"] += [("-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"),
                            ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")]
        rules["nat"].append(("-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"))
    return rules


def setup_bridge(root_id: str, bridge: str, subnet: str, internal: bool = False) -> None:
    """Install the bridge's rules (idempotent); for a network with a way out, IPv4 forwarding goes on."""
    rules = bridge_rules(bridge, subnet, internal)
    if not rules["filter"] and not rules["nat"]:
        return
    from engine.store.locks import file_lock

    chain = chain_name(root_id)
    with file_lock(LOCK):
        for table in ("filter", "nat"):
            if rules[table]:
                _ensure_chain(table, chain)
                for rule in rules[table]:
                    _add(table, chain, rule)
    if rules["nat"]:
        _enable_forwarding()


def _enable_forwarding() -> None:
    try:
        with open(_IP_FORWARD) as f:
            if f.read().strip() == "1":
                return
        with open(_IP_FORWARD, "w") as f:
            f.write("1\n")
    except OSError as e:
        raise EngineError(f"cannot enable IPv4 forwarding for outbound traffic ({_IP_FORWARD}): {e.strerror}") from None


def rules_of(root_id: str, table: str) -> list[str]:
    """The rules in the root's chain of *table*, as `iptables -S` prints them ([] without chain)."""
    res = _iptables("-t", table, "-S", chain_name(root_id), check=False)
    return [ln for ln in res.stdout.splitlines() if ln.startswith("-A ")] if res.returncode == 0 else []


def forget_bridge(root_id: str, bridge: str) -> None:
    """Remove every rule naming *bridge*; with the root's last rule in a table, its chain and jump go too."""
    if not available():
        return
    from engine.store.locks import file_lock

    chain = chain_name(root_id)
    with file_lock(LOCK):
        for table in ("filter", "nat"):
            res = _iptables("-t", table, "-S", chain, check=False)
            if res.returncode != 0:
                continue
            listing = [ln for ln in res.stdout.splitlines() if ln.startswith("-A ")]
            for line in listing:
                words = line.split()
                if bridge in words:
                    _iptables("-t", table, "-D", *words[1:], check=False)
            if not rules_of(root_id, table):
                while _iptables("-t", table, "-C", _HOOK[table], "-j", chain, check=False).returncode == 0:
                    _iptables("-t", table, "-D", _HOOK[table], "-j", chain)
                _iptables("-t", table, "-X", chain, check=False)
