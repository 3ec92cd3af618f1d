"""`composer rm`: remove stopped service containers."""
from __future__ import annotations

HELP = "remove stopped service containers"


def configure(p) -> None:
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.add_argument("-s", "--stop", action="store_true", help="stop the containers first if needed")
    p.add_argument("-v", "--volumes", action="store_true", help="also remove anonymous volumes")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    import sys

    from composer.cli.project import converge

    def confirm(rec) -> bool:
        doomed = [c.name for c in rec.containers()
                  if (args.stop or c.status != "running") and (not args.services or
                                                               c.labels.get("com.docker.compose.service") in args.services)]
        if not doomed:
            print("No stopped containers", file=sys.stderr)
            return False
        if args.force or args.dry_run or not sys.stdin.isatty():
            return True
        answer = input(f"Going to remove {', '.join(doomed)}\nAre you sure? [yN] ")
        return answer.strip().lower() in ("y", "yes")

    def step(rec):
        if confirm(rec):
            rec.remove(args.services or None, stop_first=args.stop, volumes=args.volumes)

    converge(args, step)
    return 0
