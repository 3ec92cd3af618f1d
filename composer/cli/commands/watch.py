"""`composer watch`: bring the services up, then sync, rebuild or restart them as their files change."""
from __future__ import annotations

HELP = "watch the build context of services and rebuild/refresh containers when files are updated"


def configure(p) -> None:
    p.add_argument("--no-up", action="store_true", help="do not build and start the services before watching")
    p.add_argument("--prune", nargs="?", const=True, default="true", metavar="BOOL", type=as_flag,
                   help="remove the image a rebuild replaced once it is dangling (default true; --prune=false keeps it)")
    p.add_argument("--quiet", action="store_true", help="hide the output of rebuilds")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def as_flag(text: str) -> bool:
    """A boolean flag's value as Docker's CLI spells it (true/false, 1/0)."""
    import argparse

    value = text.strip().lower()
    if value in ("true", "1", "t", "yes"):
        return True
    if value in ("false", "0", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r} (use true or false)")


def run(args) -> int:
    from composer import labels
    from composer.cli.project import reconciler
    from composer.converge.plan import UpOptions, targets
    from composer.progress import from_args
    from composer.watch.rules import rules_for

    rec = reconciler(args, from_args(args))
    rules = rules_for(rec.project, args.services)
    started: list[str] = []
    if not args.no_up:
        wanted = targets(rec.project, args.services, False)
        running = {c.labels.get(labels.LABEL_SERVICE) for c in rec.containers() if c.status == "running"}
        with rec.lock():
            rec.prepare_images(wanted)
            rec.up(UpOptions(services=args.services))
        started = [s for s in wanted if s not in running]
    keep_watching(rec, rules, stop_services=started, prune=args.prune, quiet=args.quiet)
    return 0


def keep_watching(rec, rules, stop_services: list[str] | None = None, timeout: float | None = None,
                  on_recreated=None, prune: bool = True, quiet: bool = False) -> int:
    """Watch until Ctrl-C; then stop *stop_services* (the ones this command started; None: none).
    *on_recreated*(service) is called after an action replaced or restarted a service's containers."""
    import signal
    import sys

    from composer.progress import Progress
    from composer.watch.loop import watch

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    shown = rec.progress
    rec.progress = Progress("quiet")  # actions print one line each
    previous = signal.signal(signal.SIGTERM, interrupted)  # `kill` ends it as gracefully as Ctrl-C
    try:
        watch(rec, rules, on_recreated=on_recreated, prune=prune, quiet=quiet)
    except KeyboardInterrupt:
        print("Stopping watch", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if stop_services:
        rec.progress = shown
        print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr, flush=True)
        try:
            with rec.lock():
                rec.stop(stop_services, timeout)
        except KeyboardInterrupt:
            with rec.lock():
                rec.kill(stop_services, "SIGKILL")
    return 130
