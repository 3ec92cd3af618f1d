"""`composer config`: print the resolved stack."""
from __future__ import annotations

HELP = "print the resolved stack"


def configure(p) -> None:
    p.add_argument("--format", default="yaml", choices=["yaml", "json"])
    p.add_argument("--services", action="store_true")
    p.add_argument("--volumes", action="store_true")
    p.add_argument("--networks", action="store_true")
    p.add_argument("--images", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-interpolate", action="store_true")


def run(args) -> int:
    import json
    import sys

    from composer.cli.project import load_project

    project = load_project(args, interpolate=not args.no_interpolate)
    if args.quiet:
        return 0
    if args.services:
        print("\n".join(project.services))
        return 0
    if args.volumes:
        print("\n".join(project.volumes))
        return 0
    if args.networks:
        print("\n".join(project.networks))
        return 0
    if args.images:
        for name, svc in project.services.items():
            print(svc.image or f"{project.name}-{name}")
        return 0
    if args.format == "json":
        print(json.dumps(project.raw, indent=2))
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(project.raw, sort_keys=False, default_flow_style=False))
    return 0
