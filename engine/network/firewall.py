"""Firewall rules of our own: bridged traffic, isolation between networks, a way out, outbound NAT.

Each engine root keeps one chain of its own, ``COMPOSER-<root_id>``, in the filter table (jumped
to from FORWARD) and, for NAT, one of the same name in the nat table (jumped to from POSTROUTING).
All roots of the host share one more chain, ``COMPOSER-ISOLATION`` (filter), as Docker's daemon
shares its DOCKER-ISOLATION chains between its networks: it holds ``-o BR -j DROP`` for every bridge
of every root. Every rule in these chains names one bridge, so a bridge's rules are found and removed
by its name; with a chain's last rule the chain (and the jump to it) go too. Nothing else of the
host's rules is touched: no flush, no policy change.

Per bridge, in its root's filter chain, in this order:
- ``-i BR -o BR -j ACCEPT`` where br_netfilter makes frames crossing a bridge pass through FORWARD
  (a host whose FORWARD policy is DROP, as Docker sets it, would drop them otherwise);
- a network with a way out (not ``internal``):
  ``-o BR -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`` (replies come in),
  ``! -i BR -o BR -j DROP`` (nothing else does: no other bridge, no other interface),
  ``-i BR ! -o BR -j COMPOSER-ISOLATION`` (no way into any other network of any root) and
  ``-i BR ! -o BR -j ACCEPT`` (the way out), and in nat ``-s SUBNET ! -o BR -j MASQUERADE``;
  IPv4 forwarding is switched on (as Docker does; it is left on);
- an internal network: ``-i BR ! -o BR -j DROP`` and ``! -i BR -o BR -j DROP``.
Each root's chain decides alone for its own bridges, whatever the order of the roots' jumps in
FORWARD: a packet between two bridges is dropped by the chain that sees it first. The host itself
still reaches every container (OUTPUT is not filtered), which is how published ports are relayed.
A network with IPv6 (enable_ipv6) gets the same filter rules, with the same chain names, from
ip6tables (a second save and restore, for such networks only): the host may forward IPv6 (we never
switch that on). There is no NAT for IPv6.
Outbound NAT needs the iptables commands (scripts/install.sh installs them); without them a network
has no way out, and says so only where bridged traffic is filtered (then they are needed for any
traffic).

Speed: adding or removing a bridge's rules costs two processes whatever their number, with the
firewall lock held across both: one ``iptables-save`` reads every table, and one
``iptables-restore --noflush`` applies the difference to both tables. The restore's input uses
command lines only (``-N``, ``-A``, ``-I``, ``-D``, ``-X``): a ``:CHAIN`` declaration would flush a
chain that exists. With the nf_tables backend the whole input is one transaction, so a failure
leaves the rules as they were. A bridge whose rules are not the list above, in its order (made by an
older version), gets them all again: its old ones deleted, the list appended.
"""
from __future__ import annotations

import shutil
import subprocess

from engine.errors import EngineError

_BR_NF = {4: "/proc/sys/net/bridge/bridge-nf-call-iptables", 6: "/proc/sys/net/bridge/bridge-nf-call-ip6tables"}
_IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"
LOCK = "/run/composer/firewall.lock"
_CMD = {4: "iptables", 6: "ip6tables"}
_HOOK = {"filter": "FORWARD", "nat": "POSTROUTING"}
_TABLES = {4: ("filter", "nat"), 6: ("filter",)}  # (no NAT for IPv6, as Docker's default)
ISOLATION = "COMPOSER-ISOLATION"  # shared by every root on the host: -o BR -j DROP for each bridge

Rule = tuple[str, ...]


def bridged_traffic_filtered(family: int = 4) -> bool:
    try:
        with open(_BR_NF[family]) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def available(family: int = 4) -> bool:
    return all(shutil.which(_CMD[family] + tail) for tail in ("", "-save", "-restore"))


def _exe(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise EngineError(f"bridged traffic is filtered by iptables on this host (br_netfilter), but the {tool} "
                          "command is missing: install the iptables package")
    return exe


def chain_name(root_id: str) -> str:
    return f"COMPOSER-{root_id}"


def bridge_rules(bridge: str, subnet: str, internal: bool, family: int = 4) -> dict[str, list[Rule]]:
    """The rules one bridge needs on this host, per table (words in the order iptables-save prints them).
    IPv6 (a network with enable_ipv6) gets the same filter rules from ip6tables, where it is installed."""
    rules: dict[str, list[Rule]] = {"filter": [], "nat": []}
    if family == 6 and not available(6):
        return rules
    if bridged_traffic_filtered(family):
        rules["filter"].append(("-i", bridge, "-o", bridge, "-j", "ACCEPT"))
    if internal:
        rules["filter"] += [("-i", bridge, "!", "-o", bridge, "-j", "DROP"),
                            ("!", "-i", bridge, "-o", bridge, "-j", "DROP")]
    elif available(family):
        rules["filter"] += [("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
                            ("!", "-i", bridge, "-o", bridge, "-j", "DROP"),
                            ("-i", bridge, "!", "-o", bridge, "-j", ISOLATION),
                            ("-i", bridge, "!", "-o", bridge, "-j", "ACCEPT")]
        if family == 4:
            rules["nat"].append(("-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"))
    return rules


def isolation_rule(bridge: str) -> Rule:
    """The bridge's rule in the shared ISOLATION chain: no other network of ours forwards into it."""
    return ("-o", bridge, "-j", "DROP")


# -- reading the rules -------------------------------------------------------------------
class _Table:
    """One table as iptables-save printed it: its chains and its rules (``-A CHAIN ...`` lines)."""

    def __init__(self) -> None:
        self.chains: set[str] = set()
        self.rules: list[str] = []

    def rules_in(self, chain: str) -> list[str]:
        prefix = f"-A {chain} "
        return [line for line in self.rules if line.startswith(prefix)]

    def references(self, chain: str) -> list[str]:
        """Rules of other chains that name *chain* (a jump to it, say)."""
        return [line for line in self.rules if not line.startswith(f"-A {chain} ") and chain in line.split()]


def _read(family: int = 4) -> dict[str, _Table]:
    """Every table's chains and rules, from one iptables-save (ip6tables-save)."""
    tool = _CMD[family] + "-save"
    res = subprocess.run([_exe(tool)], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise EngineError(f"{tool}: {res.stderr.strip() or res.returncode}")
    tables: dict[str, _Table] = {}
    table = _Table()
    for line in res.stdout.splitlines():
        if line.startswith("*"):
            table = tables.setdefault(line[1:].strip(), _Table())
        elif line.startswith(":"):
            table.chains.add(line[1:].split()[0])
        elif line.startswith("-A "):
            table.rules.append(line)
    return tables


def _canonical(words: list[str] | tuple[str, ...]) -> tuple:
    """A rule's options as a sorted tuple of (negated, option, values...): the same rule whatever the order
    of its options, so a rule we add is recognised in iptables-save's listing."""
    groups: list[tuple] = []
    current: list[str] = []
    negated = False
    for word in words:
        if word == "!":
            negated = True
            continue
        if word.startswith("-") and not word.lstrip("-").isdigit():
            if current:
                groups.append(tuple(current))
            current = ["!" if negated else "", word]
            negated = False
        else:
            current.append(word)
    if current:
        groups.append(tuple(current))
    return tuple(sorted(groups))


def _apply(lines: dict[str, list[str]], family: int = 4) -> None:
    """Apply command lines per table in one iptables-restore --noflush (one transaction on nf_tables)."""
    script: list[str] = []
    for table in _TABLES[family]:
        if lines.get(table):
            script += [f"*{table}", *lines[table], "COMMIT"]
    if not script:
        return
    text = "\n".join(script) + "\n"
    tool = _CMD[family] + "-restore"
    res = subprocess.run([_exe(tool), "-w", "--noflush"], input=text, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        err = res.stderr.strip() or str(res.returncode)
        # "iptables-restore: line N failed: ...": name the line itself too
        for word in err.split():
            if word.isdigit() and f"line {word} failed" in err and 0 < int(word) <= len(script):
                err += f" ({script[int(word) - 1]})"
                break
        raise EngineError(f"{tool}: {err}")


def _under_lock(plan, family: int = 4) -> None:
    """Read the rules, plan the changes and apply them with the firewall lock held across the three; a
    failed apply (another program changed the rules in between) is planned again once from a new read."""
    from engine.store.locks import file_lock

    with file_lock(LOCK):
        for attempt in (1, 2):
            try:
                _apply(plan(_read(family)), family)
                return
            except EngineError:
                if attempt == 2:
                    raise


# -- adding and removing a bridge's rules ---------------------------------------------------
def setup_bridge(root_id: str, bridge: str, subnet: str, internal: bool = False, ipv6: bool = False) -> None:
    """Install the bridge's rules (idempotent), with *ipv6* its IPv6 ones too; for a network with a way
    out, IPv4 forwarding goes on."""
    for family in (4, 6) if ipv6 else (4,):
        _setup(family, chain_name(root_id), bridge, subnet, internal)


def _setup(family: int, chain: str, bridge: str, subnet: str, internal: bool) -> None:
    rules = bridge_rules(bridge, subnet, internal, family)
    if not rules["filter"] and not rules["nat"]:
        return

    def plan(tables: dict[str, _Table]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for table in _TABLES[family]:
            if not rules[table]:
                continue
            have = tables.get(table) or _Table()
            lines: list[str] = []
            if table == "filter":  # the shared chain first: the root's chain jumps to it
                if ISOLATION not in have.chains:
                    lines.append(f"-N {ISOLATION}")
                rule = isolation_rule(bridge)
                if _canonical(rule) not in {_canonical(line.split()[2:]) for line in have.rules_in(ISOLATION)}:
                    lines.append(f"-A {ISOLATION} {' '.join(rule)}")
            if chain not in have.chains:
                lines.append(f"-N {chain}")
            # the bridge's rules are right only all together and in their order: else all of them again
            mine = [line for line in have.rules_in(chain) if bridge in line.split()]
            if [_canonical(line.split()[2:]) for line in mine] != [_canonical(rule) for rule in rules[table]]:
                lines += ["-D" + line[2:] for line in mine]
                lines += [f"-A {chain} {' '.join(rule)}" for rule in rules[table]]
            hook = _HOOK[table]
            if f"-A {hook} -j {chain}" not in have.rules:  # the jump last: the chain is complete before it
                lines.append(f"-I {hook} 1 -j {chain}")
            out[table] = lines
        return out

    _under_lock(plan, family)
    if rules["nat"]:
        _enable_forwarding()


def forget_bridge(root_id: str, bridge: str, ipv6: bool = False) -> None:
    """Remove every rule naming *bridge* (with *ipv6* its IPv6 ones too); with the root's last rule in a
    table, its chain and jump go too."""
    for family in (4, 6) if ipv6 else (4,):
        if available(family):
            _forget(family, chain_name(root_id), bridge)


def _forget(family: int, chain: str, bridge: str) -> None:
    def plan(tables: dict[str, _Table]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for table in _TABLES[family]:
            have = tables.get(table)
            if have is None:
                continue
            lines: list[str] = []
            if chain in have.chains:
                mine = have.rules_in(chain)
                lines += ["-D" + line[2:] for line in mine if bridge in line.split()]
                if len(lines) == len(mine):  # the chain is left empty: it and our jumps to it go
                    jump = f"-A {_HOOK[table]} -j {chain}"
                    refs = have.references(chain)
                    lines += ["-D" + line[2:] for line in refs if line == jump]
                    if all(line == jump for line in refs):  # (a rule not of ours naming it keeps it, untouched)
                        lines.append(f"-X {chain}")
            if table == "filter" and ISOLATION in have.chains:
                shared = have.rules_in(ISOLATION)
                # (and those of bridges gone without their rules: removed by a version without this chain)
                gone = ["-D" + line[2:] for line in shared if bridge in line.split() or _stale(line)]
                lines += gone
                if len(gone) == len(shared):  # the host's last bridge of ours: the shared chain goes too
                    deleted = {"-A" + line[2:] for line in lines if line.startswith("-D ")}
                    if all(line in deleted for line in have.references(ISOLATION)):
                        lines.append(f"-X {ISOLATION}")
            if lines:
                out[table] = lines
        return out

    _under_lock(plan, family)


def _stale(rule: str) -> bool:
    """Whether the bridge an ISOLATION rule names (``-o BR``) no longer exists."""
    import os

    words = rule.split()
    name = words[words.index("-o") + 1] if "-o" in words[:-1] else ""
    return bool(name) and "/" not in name and not os.path.exists(f"/sys/class/net/{name}")


def _enable_forwarding() -> None:
    try:
        with open(_IP_FORWARD) as f:
            if f.read().strip() == "1":
                return
        with open(_IP_FORWARD, "w") as f:
            f.write("1\n")
    except OSError as e:
        raise EngineError(f"cannot enable IPv4 forwarding for outbound traffic ({_IP_FORWARD}): {e.strerror}") from None
