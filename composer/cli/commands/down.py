"""`composer down`: stop and remove the stack's containers and networks."""
from __future__ import annotations

HELP = "stop and remove containers and networks"


def configure(p) -> None:
    p.add_argument("-v", "--volumes", action="store_true", help="also remove named volumes")
    p.add_argument("--remove-orphans", action="store_true")
    p.add_argument("-t", "--timeout", type=float, help="seconds to wait for a container to stop")
    p.add_argument("--rmi", choices=["local", "all"], help="also remove images: local (built ones) or all")
    p.add_argument("services", nargs="*", metavar="SERVICE", help="only these services' containers")


def run(args) -> int:
    from composer.cli.project import converge

    converge(args, lambda r: r.down(volumes=args.volumes, remove_orphans=args.remove_orphans, timeout=args.timeout,
                                    rmi=args.rmi, services=args.services or None))
    return 0
