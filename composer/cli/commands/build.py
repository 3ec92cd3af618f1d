"""`composer build`: build the images of the stack's services that have `build:`."""
from __future__ import annotations

HELP = "build or rebuild the services' images"


def configure(p) -> None:
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="set a build arg")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("-q", "--quiet", action="store_true", help="no build output")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int | None:
    import sys

    from composer.converge.build import build_service
    from composer.cli.keyvalue import pairs
    from composer.cli.project import load_project
    from engine.api import Engine

    project = load_project(args)
    names = args.services or sorted(project.services)
    services = [project.service(n) for n in names]
    engine = Engine()
    build_args = pairs(args.build_arg, "--build-arg", bare="environment")

    def show(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    for svc in services:
        if svc.build is None:
            continue
        build_service(project, engine, svc, None if args.quiet else show, no_cache=args.no_cache or None,
                      build_args=build_args)
