"""`composer config`: print the resolved stack, in the shape `docker compose config` prints."""
from __future__ import annotations

HELP = "print the resolved stack"


def configure(p) -> None:
    p.add_argument("--format", default="yaml", choices=["yaml", "json"], help="output format")
    p.add_argument("--services", action="store_true", help="print the service names, one per line")
    p.add_argument("--volumes", action="store_true", help="print the volume names, one per line")
    p.add_argument("--networks", action="store_true", help="print the network names, one per line")
    p.add_argument("--profiles", dest="list_profiles", action="store_true", help="print the profile names, one per line")
    p.add_argument("--images", action="store_true", help="print the image names, one per line")
    p.add_argument("--hash", metavar="SERVICE", help="print the configuration hash of services (* for all)")
    p.add_argument("--environment", action="store_true", help="print the environment used for interpolation")
    p.add_argument("-q", "--quiet", action="store_true", help="only validate the configuration")
    p.add_argument("--no-interpolate", action="store_true", help="do not interpolate variables")
    p.add_argument("--no-normalize", action="store_true", help="do not turn short syntaxes into long ones")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("services_filter", nargs="*", metavar="SERVICE", help="only these services")


def run(args) -> int:
    import sys

    from composer.cli.project import load_options
    from composer.load.loader import all_profiles, build_project, load_raw

    opts = load_options(args, interpolate=not args.no_interpolate)
    got = load_raw(opts)
    if args.environment:
        return _write(args, "".join(f"{k}={v}\n" for k, v in sorted(got.env.items())))
    if args.list_profiles:
        return _write(args, "".join(p + "\n" for p in all_profiles(got.tree)))
    profiles = list(got.profiles)
    if args.services_filter:
        # naming a service enables its profiles, as in Docker Compose
        for name in args.services_filter:
            svc = (got.tree.get("services") or {}).get(name)
            if isinstance(svc, dict):
                profiles += [str(p) for p in svc.get("profiles") or []]
    if args.no_interpolate:
        # references cannot be typed before interpolation: print the merged files as written
        from composer.load.loader import active_services

        tree = dict(got.tree)
        services = tree.get("services") or {}
        keep = active_services(services, profiles)
        tree["services"] = {k: v for k, v in services.items() if k in keep}
        raw = {"name": got.name, **{k: v for k, v in tree.items() if k != "name"}}
        return _print_model(args, raw)
    project = build_project(got.tree, got.name, got.project_dir, got.files, got.env, got.session, profiles,
                            defaults=not args.no_normalize)
    if args.services_filter:
        _select(project, args.services_filter)
    if args.quiet:
        return 0
    if args.services:
        return _write(args, "".join(f"{name}\n" for name in project.services))
    if args.volumes:
        return _write(args, "".join(f"{name}\n" for name in project.volumes))
    if args.networks:
        return _write(args, "".join(f"{name}\n" for name in project.networks))
    if args.images:
        return _write(args, "".join(f"{svc.image or f'{project.name}-{name}'}\n"
                                    for name, svc in project.services.items()))
    if args.hash:
        names = list(project.services) if args.hash.strip() == "*" else [n.strip() for n in args.hash.split(",")]
        lines = [f"{name} {project.service(name).config_hash()}\n" for name in names if name]
        return _write(args, "".join(lines))
    del sys
    return _print_model(args, project.raw)


def _select(project, names: list[str]) -> None:
    """Keep the named services and what they depend on (Docker Compose's `config SERVICE...`)."""
    from composer.graph import Graph

    for name in names:
        project.service(name)
    keep = Graph(project).with_dependencies(names)
    for name in list(project.services):
        if name not in keep:
            del project.services[name]
            del project.raw["services"][name]


def _print_model(args, raw: dict) -> int:
    from composer.load.longform import escape_dollars

    raw = escape_dollars(raw)
    if args.format == "json":
        import json

        return _write(args, json.dumps(raw, indent=2) + "\n")
    import yaml

    text = yaml.safe_dump(yaml_view(raw), sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 16)
    return _write(args, text)


_TOP_ORDER = ("name", "services", "networks", "volumes", "secrets", "configs", "models")


def yaml_view(raw: dict) -> dict:
    """The model as Docker Compose's YAML prints it: top-level keys in file order and without the
    empty values its JSON shows (command: null, ipam: {}, placement: {}, exec: {command: null})."""
    out = {k: raw[k] for k in _TOP_ORDER if k in raw}
    out.update({k: v for k, v in raw.items() if k not in out})
    services = {}
    for name, svc in (out.get("services") or {}).items():
        if not isinstance(svc, dict):  # --no-interpolate prints the files as written, unchecked
            services[name] = svc
            continue
        svc = {k: v for k, v in svc.items() if not (k in ("command", "entrypoint") and v is None)}
        deploy = svc.get("deploy")
        if isinstance(deploy, dict):
            svc["deploy"] = {k: v for k, v in deploy.items() if not (k in ("placement", "resources") and v == {})}
        develop = svc.get("develop")
        if isinstance(develop, dict) and isinstance(develop.get("watch"), list):
            svc["develop"] = {**develop, "watch": [
                {k: v for k, v in rule.items() if not (k == "exec" and v == {"command": None})}
                for rule in develop["watch"]]}
        services[name] = svc
    if "services" in out:
        out["services"] = services
    if isinstance(out.get("networks"), dict):
        out["networks"] = {k: ({a: b for a, b in v.items() if not (a == "ipam" and b == {})}
                               if isinstance(v, dict) else v) for k, v in out["networks"].items()}
    return out


def _write(args, text: str) -> int:
    if args.output:
        from composer.errors import ComposerError

        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise ComposerError(f"cannot write {args.output}: {e.strerror}") from None
    else:
        import sys

        sys.stdout.write(text)
    return 0
