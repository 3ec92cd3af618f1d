"""`composer create`: create the stack's containers without starting them."""
from __future__ import annotations

HELP = "create containers for services, without starting them"


def configure(p) -> None:
    p.add_argument("--build", action="store_true", help="build images before creating")
    p.add_argument("--no-build", action="store_true", help="do not build missing images")
    p.add_argument("--pull", choices=["always", "missing", "never"], help="pull images before creating")
    p.add_argument("--force-recreate", action="store_true", help="recreate containers even if unchanged")
    p.add_argument("--no-recreate", action="store_true", help="never recreate existing containers")
    p.add_argument("--remove-orphans", action="store_true", help="remove containers of services not in the file")
    p.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM", help="number of containers")
    p.add_argument("-y", "--yes", action="store_true", help="assume yes to prompts")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    from composer.cli.commands.up import scale_option
    from composer.cli.project import reconciler
    from composer.errors import ComposerError
    from composer.converge.plan import UpOptions, targets
    from composer.progress import from_args

    if args.force_recreate and args.no_recreate:
        raise ComposerError("--force-recreate and --no-recreate are incompatible")
    rec = reconciler(args, from_args(args))
    opts = UpOptions(services=args.services, force_recreate=args.force_recreate, no_recreate=args.no_recreate,
                     no_start=True, remove_orphans=args.remove_orphans, scale=scale_option(args.scale, rec.project))
    rec.no_build = args.no_build
    with rec.lock():
        rec.prepare_images(targets(rec.project, args.services, getattr(args, "no_deps", False)), args.pull, args.build)
        rec.up(opts)
    return 0
