"""A container's /etc/hosts and /etc/resolv.conf, rendered from its spec. Stdlib only, no I/O but reads.

Bridged containers ask their first network's resolver (on its gateway), as Docker's containers ask
127.0.0.11; `dns:` servers become that resolver's upstreams for the container (see registry), so
service names keep working. Containers without a network get the host's file without its loopback
servers (unreachable from their namespace); host-network containers get the host's file as it is.
`dns`, `dns_search` and `dns_opt` override the matching lines in every case.
"""
from __future__ import annotations

HOST_RESOLV_CONF = "/etc/resolv.conf"
HOST_HOSTS = "/etc/hosts"

BASE_HOSTS = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", "fe00::0\tip6-localnet",
              "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters"]


def parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search domains, options) of a resolv.conf."""
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append(parts[1])
        elif parts and parts[0] in ("search", "domain"):
            search = parts[1:]
        elif parts and parts[0] == "options":
            options.extend(parts[1:])
    return servers, search, options


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _merge_options(base: list[str], extra: list[str]) -> list[str]:
    """*extra* options win over *base* ones of the same name (ndots:1 replaces ndots:0)."""
    names = {o.split(":", 1)[0] for o in extra}
    return [o for o in base if o.split(":", 1)[0] not in names] + list(extra)


def render_resolv_conf(mode: str, gateway: str, dns: list[str], search: list[str], options: list[str],
                       host_file: str = HOST_RESOLV_CONF) -> str:
    """*mode*: "bridge" (ask *gateway*), "host" or "none"."""
    servers, host_search, host_options = parse_resolv_conf(_read(host_file))
    if mode == "bridge":
        servers, opts = [gateway], _merge_options(["ndots:0"], options)
    else:
        if mode == "none":
            servers = [s for s in servers if not s.startswith("127.") and s != "::1"]
        servers = list(dns) or servers
        opts = _merge_options(host_options, options)
    lines = [f"nameserver {s}" for s in servers]
    dom = list(search) or host_search
    if dom and dom != ["."]:
        lines.append("search " + " ".join(dom))
    if opts:
        lines.append("options " + " ".join(opts))
    return "\n".join(lines) + "\n"


def render_hosts(mode: str, hostname: str, domainname: str | None, own_ips: list[str],
                 extra: list[tuple[str, str]], host_file: str = HOST_HOSTS) -> str:
    """*own_ips* carry the hostname; *extra* are (name, ip) lines from extra_hosts and links."""
    if mode == "host":
        lines = [ln for ln in _read(host_file).splitlines() if ln.strip()]
    else:
        lines = list(BASE_HOSTS)
        names = f"{hostname}.{domainname}\t{hostname}" if domainname else hostname
        lines += [f"{ip}\t{names}" for ip in own_ips]
    lines += [f"{ip}\t{name}" for name, ip in extra]
    return "\n".join(lines) + "\n"


def parse_extra_host(entry: str) -> tuple[str, str]:
    """"name=ip", "name:ip" (compose's older form; IPv6 after the first colon) -> (name, ip)."""
    if "=" in entry:
        name, _, ip = entry.partition("=")
    else:
        name, _, ip = entry.partition(":")
    name, ip = name.strip(), ip.strip()
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if not name or not ip:
        from engine.errors import InvalidArgument

        raise InvalidArgument(f"invalid extra host {entry!r}: expected NAME=IP (or NAME=host-gateway)")
    if ip != "host-gateway":
        import ipaddress

        try:
            ipaddress.ip_address(ip)
        except ValueError:
            from engine.errors import InvalidArgument

            raise InvalidArgument(f"invalid extra host {entry!r}: {ip!r} is not an IP address") from None
    return name, ip
