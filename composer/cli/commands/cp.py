"""`composer cp`: copy files and directories between a service container and the host."""
from __future__ import annotations

HELP = "copy files/folders between a service container and the local filesystem"


def configure(p) -> None:
    p.add_argument("--index", type=int, default=1, help="which replica of the service (default 1)")
    p.add_argument("--all", action="store_true", help="copy to all the service's containers")
    p.add_argument("source", metavar="SERVICE:SRC_PATH|SRC_PATH")
    p.add_argument("dest", metavar="DEST_PATH|SERVICE:DEST_PATH")


def split_ref(arg: str) -> tuple[str | None, str]:
    """("service", "path") for SERVICE:PATH, (None, path) for a local path (absolute, ./..., or no colon)."""
    if arg.startswith(("/", ".")) or ":" not in arg:
        return None, arg
    service, _, path = arg.partition(":")
    return service, path


def run(args) -> int:
    from composer import labels
    from composer.cli.project import reconciler
    from composer.errors import ComposerError

    src_service, src = split_ref(args.source)
    dest_service, dest = split_ref(args.dest)
    if (src_service is None) == (dest_service is None):
        raise ComposerError("cp copies between a service and the host: one of SOURCE and DEST must be SERVICE:PATH")
    if not src or not dest:
        raise ComposerError("cp needs a non-empty source and destination path")
    rec = reconciler(args)
    service = src_service or dest_service
    rec.project.service(service)
    containers = rec.engine.list_containers({labels.LABEL_PROJECT: rec.project.name, labels.LABEL_SERVICE: service,
                                             labels.LABEL_ONEOFF: "False"})
    if not (args.all and dest_service):
        containers = [c for c in containers if c.labels.get(labels.LABEL_NUMBER) == str(args.index)]
    if not containers:
        raise ComposerError(f"service {service} has no container (index {args.index}): run up first")
    for c in containers:
        if src_service:
            rec.engine.copy_from_container(c.id, src, dest)
        else:
            rec.engine.copy_to_container(c.id, src, dest)
    return 0
