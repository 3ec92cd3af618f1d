"""`composer up`: create and start the stack's containers (and, attached, follow their output)."""
from __future__ import annotations

HELP = "create and start the stack's containers"


def configure(p) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="run in the background")
    p.add_argument("--build", action="store_true", help="build images before starting")
    p.add_argument("--no-build", action="store_true", help="do not build missing images")
    p.add_argument("--pull", choices=["always", "missing", "never"], help="pull images before starting")
    p.add_argument("--quiet-pull", action="store_true", help="pull without progress output")
    p.add_argument("--force-recreate", action="store_true", help="recreate containers even if unchanged")
    p.add_argument("--no-recreate", action="store_true", help="never recreate existing containers")
    p.add_argument("--always-recreate-deps", action="store_true", help="recreate dependencies too")
    p.add_argument("-V", "--renew-anon-volumes", action="store_true", help="new anonymous volumes on recreate")
    p.add_argument("--no-start", action="store_true", help="create, do not start")
    p.add_argument("--no-deps", action="store_true", help="do not start linked services")
    p.add_argument("--remove-orphans", action="store_true", help="remove containers of services not in the file")
    p.add_argument("--scale", action="append", default=[], metavar="SERVICE=NUM", help="number of containers")
    p.add_argument("--wait", action="store_true", help="wait until services are running/healthy (implies -d)")
    p.add_argument("--wait-timeout", type=float, help="seconds --wait waits")
    p.add_argument("--abort-on-container-exit", action="store_true", help="stop all when any container stops")
    p.add_argument("--abort-on-container-failure", action="store_true",
                   help="stop all when a container exits with a non-zero code")
    p.add_argument("--exit-code-from", metavar="SERVICE", help="exit with this service's exit code")
    p.add_argument("--attach", action="append", default=[], metavar="SERVICE", help="follow only these")
    p.add_argument("--attach-dependencies", action="store_true", help="follow dependencies' output too")
    p.add_argument("--no-attach", action="append", default=[], metavar="SERVICE", help="do not follow these")
    p.add_argument("--timestamps", action="store_true", help="show timestamps")
    p.add_argument("--no-log-prefix", action="store_true", help="no service prefix in logs")
    p.add_argument("--no-color", action="store_true", help="monochrome output")
    p.add_argument("-t", "--timeout", type=float, help="seconds to wait for containers to stop")
    p.add_argument("-w", "--watch", action="store_true",
                   help="watch source code (develop.watch) and sync/rebuild/restart services as files change")
    p.add_argument("-y", "--yes", action="store_true", help="assume yes to prompts")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def check_flags(args) -> None:
    from composer.errors import ComposerError

    if args.force_recreate and args.no_recreate:
        raise ComposerError("--force-recreate and --no-recreate are incompatible")
    if args.build and args.no_build:
        raise ComposerError("--build and --no-build are incompatible")
    if args.exit_code_from:
        args.abort_on_container_exit = True
    if args.detach and (args.abort_on_container_exit or args.abort_on_container_failure):
        raise ComposerError("-d cannot be combined with --abort-on-container-exit or --exit-code-from")
    if args.abort_on_container_exit and args.abort_on_container_failure:
        raise ComposerError("--abort-on-container-exit and --abort-on-container-failure are incompatible")
    if args.wait and (args.abort_on_container_exit or args.abort_on_container_failure):
        raise ComposerError("--wait cannot be combined with --abort-on-container-exit")


def scale_option(values: list[str], project) -> dict[str, int]:
    from composer.errors import ComposerError

    out = {}
    for item in values:
        name, sep, num = item.partition("=")
        if not sep or not num.strip().isdigit():
            raise ComposerError(f"invalid --scale {item!r}: use SERVICE=NUMBER")
        project.service(name)
        out[name] = int(num)
    return out


def run(args) -> int:
    from composer.cli.project import reconciler
    from composer.errors import ComposerError
    from composer.converge.plan import UpOptions, targets
    from composer.progress import from_args

    check_flags(args)
    rec = reconciler(args, from_args(args))
    for name in args.services + args.attach + args.no_attach + ([args.exit_code_from] if args.exit_code_from else []):
        rec.project.service(name)
    opts = UpOptions(services=args.services, force_recreate=args.force_recreate, no_recreate=args.no_recreate,
                     always_recreate_deps=args.always_recreate_deps, renew_anon_volumes=args.renew_anon_volumes,
                     no_start=args.no_start, no_deps=args.no_deps, remove_orphans=args.remove_orphans,
                     scale=scale_option(args.scale, rec.project), timeout=args.timeout)
    rec.no_build = args.no_build
    if args.watch:
        from composer.watch.rules import rules_for

        rules = rules_for(rec.project, args.services)
    before = None
    with rec.lock():
        if not (args.detach or args.wait or args.no_start or args.dry_run or args.watch):
            from composer.cli.attached import before_up

            before = before_up(rec)  # an attached up shows only what the containers write from now on
        rec.prepare_images(targets(rec.project, args.services, getattr(args, "no_deps", False)), args.pull, args.build)
        rec.up(opts)
        if args.dry_run:
            return 0
        if args.wait and not args.no_start:
            rec.wait_ready(targets(rec.project, args.services, args.no_deps), args.wait_timeout)
    if args.watch and not args.no_start:
        return up_watch(rec, args, rules)
    if args.detach or args.wait or args.no_start:
        return 0
    if args.exit_code_from and args.exit_code_from not in rec.project.services:
        raise ComposerError(f"no such service: {args.exit_code_from}")
    from composer.cli.attached import attach

    return attach(rec, args, before)


def up_watch(rec, args, rules) -> int:
    """`up --watch`: follow the output (unless detached) and watch; Ctrl-C stops both, then the stack."""
    from composer.cli.commands.watch import keep_watching
    from composer.converge.plan import targets

    on_recreated = None
    if not args.detach:
        from composer.cli.attached import _chosen
        from composer.labels import LABEL_SERVICE
        from composer.cli.follow import Printer, follow, use_colour

        followed: set[str] = set()
        printer = Printer(_chosen(rec, args), prefix=not args.no_log_prefix,
                          colour=use_colour(getattr(args, "ansi", "auto"), args.no_color), timestamps=args.timestamps)

        def on_recreated(service: str | None = None) -> None:
            fresh = [c for c in _chosen(rec, args) if c.id not in followed
                     and (service is None or c.labels.get(LABEL_SERVICE) == service)]
            followed.update(c.id for c in fresh)
            follow(rec.engine, fresh, follow=True, tail=0 if service else None, prefix=True, printer=printer,
                   wait=False, across_restarts=True)

        on_recreated()
    return keep_watching(rec, rules, targets(rec.project, args.services, args.no_deps), args.timeout, on_recreated)
