"""A container's network endpoints: its namespace wired into its networks before its process
starts (veth into each bridge, addresses, routes, names in each network's resolver), a namespace
joined from another container (network_mode container:X), its /etc files, and networks connected
to or disconnected from an existing container."""
from __future__ import annotations

import os
from typing import Callable

from engine.containers.records import spec_from_dict, spec_to_dict
from engine.errors import Conflict, InvalidArgument, NotFound, quietly
from engine.store.locks import file_lock
from engine.stores import Stores
from engine.types import ContainerSpec, NetworkAttachment, NetworkInfo


def wire_network(stores: Stores, rec: dict, spec: ContainerSpec, nets: list[NetworkInfo],
                 undo: list[Callable[[], object]], mode: str) -> tuple[str, list[dict]]:
    """The network namespace the container's process joins, and its resolvers' records files.
    Notes in *rec* its interface names (and, joining another's, which container); *undo* gets the
    steps that take back what was made."""
    from engine.network import endpoints
    from engine.network.netns import create_netns, destroy_netns

    cid = rec["id"]
    if mode == "host":
        return endpoints.HOST_NETNS, []
    if mode == "container":
        return peer_netns(stores, rec, spec), []
    netns = os.path.join(stores.paths.run, "netns", cid)
    os.makedirs(os.path.dirname(netns), exist_ok=True)
    destroy_netns(netns)  # a leftover of a crash
    create_netns(netns)
    undo.append(lambda: destroy_netns(netns))
    dns: list[dict] = []
    if not nets:
        return netns, dns
    from engine.network.registry import unregister

    route_net = endpoints.default_route_network(nets)
    v6 = rec.get("addresses6") or {}
    rec["ifnames"] = {}
    for i, (att, net) in enumerate(zip(endpoints.ordered(spec.networks), nets)):
        records = attach(stores, rec, spec, att, net, f"eth{i}", rec["addresses"][net.name], v6.get(net.name, ""),
                         net is route_net, att.mac_address or (spec.mac_address if i == 0 else ""))
        rec["ifnames"][net.name] = f"eth{i}"
        undo.append(lambda records=records: unregister(records, cid))
        dns.append({"records": records})
    return netns, dns


def attach(stores: Stores, rec: dict, spec: ContainerSpec, att: NetworkAttachment, net: NetworkInfo, ifname: str,
           ip: str, ip6: str, default_route: bool, mac: str = "") -> str:
    """Wire the container's namespace into *net* as *ifname* and register its names; the records file."""
    from engine.network import endpoints
    from engine.network.attach import connect, disconnect, host_ifname
    from engine.network.registry import register

    cid = rec["id"]
    netns = os.path.join(stores.paths.run, "netns", cid)
    stores.networks.ensure_running(net.name)
    host_if = host_ifname(stores.paths.root_id, cid, net.name)
    connect(netns, net.bridge, ip, endpoints.prefixlen(net.subnet), net.gateway if default_route else None,
            ifname=ifname, host_ifname=host_if, mac=mac or att.mac_address, mtu=net.mtu, ip6=ip6,
            prefixlen6=endpoints.prefixlen(net.subnet6) if ip6 else 64,
            gateway6=net.gateway6 if default_route else None)
    records = stores.networks.records_file(net.name)
    try:
        register(records, cid, [rec["name"], *att.aliases, cid[:12]], ip, ip6=ip6, dns=spec.dns,
                 search=spec.dns_search)
    except BaseException:
        disconnect(host_if)
        raise
    return records


def peer_netns(stores: Stores, rec: dict, spec: ContainerSpec) -> str:
    """The pinned namespace of the running container this one joins (network_mode container:NAME-OR-ID);
    the record notes which container that is, and takes its hostname unless the spec sets one."""
    from engine.runtime import launch

    target = spec.network_mode.partition(":")[2]
    peer = peer_record(stores, spec)
    if peer is None:
        raise InvalidArgument(f"container {rec['name']}: network_mode container:{target}: no such container")
    peer_id = peer["id"]
    if rec.get("network_container") != peer_id:
        rec.update(network_container=peer_id, hostname=spec.hostname or peer["hostname"])
        stores.records.write(rec)
    netns = os.path.join(stores.paths.run, "netns", peer_id)
    if launch.read_state(stores.paths.container_dir(peer_id)).get("status") != "running" \
            or not os.path.exists(netns):
        raise Conflict(f"container {rec['name']}: cannot join the network of {peer['name']}: it is not running "
                       "(start it first)")
    return netns


def peer_record(stores: Stores, spec: ContainerSpec) -> dict | None:
    """The record of the container whose network *spec* joins (network_mode container:X), if it exists."""
    try:
        return stores.records.find(spec.network_mode.partition(":")[2])
    except NotFound:
        return None


def write_etc_files(stores: Stores, rec: dict, spec: ContainerSpec, nets: list[NetworkInfo], mode: str) -> None:
    """The container's /etc/hostname, /etc/hosts and /etc/resolv.conf, kept in its directory."""
    from engine.network import etcfiles
    from engine.network.endpoints import host_gateway

    cdir = stores.paths.container_dir(rec["id"])
    files = {"hostname": rec["hostname"] + "\n"}
    if mode == "container":  # the joined container's files, as Docker shares them
        peer = stores.paths.container_dir(rec["network_container"])
        for name in ("hosts", "resolv.conf"):
            with open(os.path.join(peer, name)) as f:
                files[name] = f.read()
    else:
        extra = []
        for entry in spec.extra_hosts:
            name, ip = etcfiles.parse_extra_host(entry)
            ip = host_gateway(nets, mode) if ip == "host-gateway" else ip
            if ip:
                extra.append((name, ip))
        extra += _link_entries(stores, spec, rec)
        own = [rec["addresses"][nets[0].name]] + ([rec["addresses6"][nets[0].name]]
                                                  if rec.get("addresses6", {}).get(nets[0].name) else []) \
            if nets else []
        files["hosts"] = etcfiles.render_hosts(mode, rec["hostname"], spec.domainname, own, extra)
        files["resolv.conf"] = etcfiles.render_resolv_conf(mode, nets[0].gateway if nets else "", spec.dns,
                                                           spec.dns_search, spec.dns_opt)
    for name, text in files.items():
        with open(os.path.join(cdir, name), "w") as f:
            f.write(text)


def _link_entries(stores: Stores, spec: ContainerSpec, rec: dict) -> list[tuple[str, str]]:
    """links: "NAME[:ALIAS]" -> (names, address of NAME on a network both share)."""
    out = []
    mine = rec.get("addresses", {})
    for link in spec.links:
        name, _, alias = link.partition(":")
        try:
            other = stores.records.find(name)
        except NotFound:
            raise InvalidArgument(f"container {spec.name}: cannot link to {name}: no such container") from None
        shared = [net for net in mine if net in other.get("addresses", {})]
        if not shared:
            raise InvalidArgument(f"container {spec.name}: cannot link to {name}: they share no network")
        names = " ".join(dict.fromkeys(n for n in (alias, other["name"], name) if n))
        out.append((names, other["addresses"][shared[0]]))
    return out


def connect_network(stores: Stores, ref: str, attachment: NetworkAttachment) -> dict:
    """Attach a container to one more network; a running one gets its interface at once. Its record."""
    from engine.network.endpoints import network_mode, plan_addresses
    from engine.runtime import launch

    rec = stores.records.find(ref)
    cid = rec["id"]
    net = stores.networks.get(attachment.network)
    with file_lock(stores.paths.lock("ctr-" + cid)), file_lock(stores.paths.lock("containers")):
        rec = stores.records.find(cid)
        spec = spec_from_dict(rec["spec"])
        if network_mode(spec) != "bridge" and spec.network_mode:
            raise InvalidArgument(f"container {rec['name']} uses network_mode {spec.network_mode}: "
                                  "it cannot be connected to networks")
        if net.name in rec.get("addresses", {}):
            raise Conflict(f"container {rec['name']} is already connected to network {net.name}")
        one = ContainerSpec(name=spec.name, image=spec.image, networks=[attachment])
        v4, v6 = plan_addresses(one, [net], stores.records.all())
        running = launch.read_state(stores.paths.container_dir(cid)).get("status") == "running"
        ifnames = rec.setdefault("ifnames", {})
        if running:
            taken = set(ifnames.values()) | {f"eth{i}" for i in range(len(rec.get("addresses", {})))}
            ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in taken)
            attach(stores, rec, spec, attachment, net, ifname, v4[net.name], v6.get(net.name, ""), False)
            ifnames[net.name] = ifname
        spec.networks.append(attachment)
        rec["spec"] = spec_to_dict(spec)
        rec.setdefault("addresses", {})[net.name] = v4[net.name]
        if v6:
            rec.setdefault("addresses6", {})[net.name] = v6[net.name]
        stores.records.write(rec)
    return rec


def disconnect_network(stores: Stores, ref: str, network: str) -> dict:
    """Take a container off *network* (a running one loses its interface at once). Its record."""
    from engine.network.attach import disconnect, host_ifname

    rec = stores.records.find(ref)
    cid = rec["id"]
    with file_lock(stores.paths.lock("ctr-" + cid)):
        rec = stores.records.find(cid)
        if network not in rec.get("addresses", {}):
            raise NotFound(f"container {rec['name']} is not connected to network {network}")
        disconnect(host_ifname(stores.paths.root_id, cid, network))
        forget_names(stores, cid, [network])
        spec = spec_from_dict(rec["spec"])
        spec.networks = [a for a in spec.networks if a.network != network]
        rec["spec"] = spec_to_dict(spec)
        for key in ("addresses", "addresses6", "ifnames"):
            (rec.get(key) or {}).pop(network, None)
        stores.records.write(rec)
    return rec


def forget_names(stores: Stores, cid: str, networks) -> None:
    """Take the container's names out of the resolvers of *networks* (what is gone already is fine)."""
    from engine.network.registry import unregister

    for net in networks:
        quietly(lambda net=net: unregister(stores.networks.records_file(net), cid))

