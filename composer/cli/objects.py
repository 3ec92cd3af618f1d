"""Commands on engine objects: `image`, `volume`, `network` and `container` groups."""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys

from composer.cli.output import ago, human_size, short_id, table
from composer.errors import ComposerError
from engine.api import Engine, EngineError


def dispatch(args) -> int | None:
    return globals()[f"{args.command}_{args.action}"](Engine(), args)


def _dump(items) -> None:
    print(json.dumps([dataclasses.asdict(i) for i in items], indent=2, default=str))


# -- image ------------------------------------------------------------------------------

def image_import(engine: Engine, args) -> None:
    info = engine.import_image(args.source, args.reference, args.change)
    print(info.id)


def image_load(engine: Engine, args) -> None:
    if not os.path.exists(args.input):
        raise ComposerError(f"open {args.input}: no such file")
    for line in engine.load_images(args.input):
        if not args.quiet:
            print(line)


def image_ls(engine: Engine, args) -> None:
    images = engine.list_images()
    if args.quiet:
        for i in images:
            print(short_id(i.id))
        return
    if args.format == "json":
        for i in images:
            for tag in i.repo_tags or ["<none>:<none>"]:
                repo, _, t = tag.rpartition(":")
                print(json.dumps({"ID": short_id(i.id), "Repository": repo, "Tag": t,
                                  "CreatedSince": ago(i.created), "CreatedAt": i.created, "Size": human_size(i.size)}))
        return
    rows = []
    for i in images:
        for tag in i.repo_tags or ["<none>:<none>"]:
            repo, _, t = tag.rpartition(":")
            rows.append([repo, t, short_id(i.id), ago(i.created), human_size(i.size)])
    print(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows))


def image_inspect(engine: Engine, args) -> int:
    found, code = [], 0
    for ref in args.images:
        try:
            found.append(engine.inspect_image(ref))
        except EngineError as e:  # reported per image, like docker
            print(f"error: {e}", file=sys.stderr)
            code = 1
    _dump(found)
    return code


def image_rm(engine: Engine, args) -> None:
    for ref in args.images:
        for line in engine.remove_image(ref, force=args.force):
            print(line)


def image_tag(engine: Engine, args) -> None:
    engine.tag_image(args.source, args.target)


# -- volume -----------------------------------------------------------------------------

def volume_ls(engine: Engine, args) -> None:
    vols = engine.list_volumes()
    if args.quiet:
        print("\n".join(v.name for v in vols))
    elif args.format == "json":
        for v in vols:
            print(json.dumps({"Driver": v.driver, "Name": v.name, "Mountpoint": v.mountpoint,
                              "Labels": ",".join(f"{k}={x}" for k, x in v.labels.items())}))
    else:
        print(table(["DRIVER", "VOLUME NAME"], [[v.driver, v.name] for v in vols]))


def volume_create(engine: Engine, args) -> None:
    print(engine.create_volume(args.name, args.driver).name)


def volume_inspect(engine: Engine, args) -> None:
    _dump([engine.inspect_volume(n) for n in args.names])


def volume_rm(engine: Engine, args) -> None:
    for n in args.names:
        engine.remove_volume(n)
        print(n)


# -- network ----------------------------------------------------------------------------

def network_ls(engine: Engine, args) -> None:
    nets = engine.list_networks()
    if args.quiet:
        print("\n".join(n.id[:12] for n in nets))
    else:
        print(table(["NETWORK ID", "NAME", "DRIVER", "SUBNET"], [[n.id[:12], n.name, "bridge", n.subnet] for n in nets]))


def network_create(engine: Engine, args) -> None:
    print(engine.create_network(args.name).id)


def network_inspect(engine: Engine, args) -> None:
    _dump([engine.inspect_network(n) for n in args.names])


def network_rm(engine: Engine, args) -> None:
    for n in args.names:
        engine.remove_network(n)
        print(n)


# -- container --------------------------------------------------------------------------

def container_run(engine: Engine, args) -> int:
    from engine.api import ContainerSpec, NetworkAttachment

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    env = dict(item.split("=", 1) if "=" in item else (item, os.environ.get(item, "")) for item in args.env)
    name = args.name or "run-" + os.urandom(4).hex()
    spec = ContainerSpec(
        name=name, image=args.image, command=cmd or None,
        entrypoint=shlex.split(args.entrypoint) if args.entrypoint is not None else None,
        env=env, working_dir=args.workdir, user=args.user, auto_remove=args.rm,
        networks=[NetworkAttachment(args.network)] if args.network else [])
    return engine.run_container(spec, sys.stdout.buffer, sys.stderr.buffer)


def container_ls(engine: Engine, args) -> None:
    rows = [[c.id[:12], c.image, c.status, c.name] for c in engine.list_containers()
            if args.all or c.status == "running"]
    print(table(["CONTAINER ID", "IMAGE", "STATUS", "NAMES"], rows))


def container_rm(engine: Engine, args) -> None:
    for ref in args.containers:
        engine.remove_container(ref, force=args.force)
        print(ref)


def container_logs(engine: Engine, args) -> None:
    out = sys.stdout.buffer
    for entry in engine.logs(args.container, follow=args.follow):
        out.write(entry["log"].encode())
        out.flush()


def container_inspect(engine: Engine, args) -> None:
    _dump([engine.inspect_container(ref) for ref in args.containers])


def container_stop(engine: Engine, args) -> None:
    for ref in args.containers:
        engine.stop_container(ref, args.timeout)
        print(ref)
