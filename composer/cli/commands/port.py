"""`composer port`: the host address a container port of a service is published on."""
from __future__ import annotations

HELP = "print the public address of a published port"


def configure(p) -> None:
    p.add_argument("--protocol", default="tcp", choices=["tcp", "udp"])
    p.add_argument("--index", type=int, default=1, help="which container of the service")
    p.add_argument("service")
    p.add_argument("private_port", type=int, metavar="PRIVATE_PORT")


def run(args) -> int:
    from composer import labels
    from composer.cli.project import reconciler
    from composer.errors import ComposerError

    rec = reconciler(args)
    rec.project.service(args.service) if rec.project.files else None
    found = [c for c in rec.containers(args.service) if c.labels.get(labels.LABEL_NUMBER) == str(args.index)]
    if not found:
        raise ComposerError(f"service {args.service} has no container #{args.index}")
    for p in found[0].ports:
        if p.container_port == args.private_port and p.protocol == args.protocol:
            print(f"{p.host_ip}:{p.host_port}")
            return 0
    raise ComposerError(f"no port {args.private_port}/{args.protocol} published for service {args.service}")
