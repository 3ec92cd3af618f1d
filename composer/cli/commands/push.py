"""`composer push`: push the images of the stack's services that are built (have build: and image:)."""
from __future__ import annotations

HELP = "push the images of the stack's built services"


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--ignore-push-failures", action="store_true", help="push what can be pushed, skip failures")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int | None:
    import sys

    from composer.cli.project import load_project
    from composer.cli.transfer_progress import display
    from composer.errors import ComposerError
    from engine.api import Engine, EngineError

    project = load_project(args)
    for n in args.services:
        project.service(n)
    engine = Engine()
    progress = display(args)
    pushed: set[str] = set()
    failed = False
    for svc in project.services.values():
        if args.services and svc.name not in args.services:
            continue
        if svc.build is None or not svc.image or svc.image in pushed:
            continue
        pushed.add(svc.image)
        try:
            engine.push_image(svc.image, progress)
        except EngineError as e:
            if not args.ignore_push_failures:
                raise ComposerError(f"service {svc.name}: pushing {svc.image}: {e}") from None
            print(f"error: service {svc.name}: pushing {svc.image}: {e}", file=sys.stderr)
            failed = True
    return 0 if not failed or args.ignore_push_failures else 1
