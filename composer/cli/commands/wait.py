"""`composer wait`: block until the services' containers stop, printing their exit codes."""
from __future__ import annotations

HELP = "block until the services' containers stop, then print their exit codes"


def configure(p) -> None:
    p.add_argument("--down-project", action="store_true", help="take the project down when the first container stops")
    p.add_argument("services", nargs="+", metavar="SERVICE")


def run(args) -> int:
    import threading

    from composer import labels
    from composer.cli.project import converge, reconciler, selected
    from composer.errors import ComposerError

    rec = reconciler(args)
    order = {name: i for i, name in enumerate(args.services)}
    containers = sorted(selected(rec, args.services), key=lambda c: order[c.labels.get(labels.LABEL_SERVICE, "")])
    if not containers:
        raise ComposerError(f"no containers for {', '.join(args.services)}: run up first")
    codes: dict[str, int] = {}
    first: list[str] = []
    done = threading.Condition()

    def wait_one(cid: str) -> None:
        code = rec.engine.wait_container(cid)
        with done:
            codes[cid] = code
            first.append(cid)
            done.notify_all()

    for c in containers:
        threading.Thread(target=wait_one, args=(c.id,), daemon=True).start()
    with done:
        if args.down_project:
            while not first:
                done.wait(0.5)
        else:
            while len(codes) < len(containers):
                done.wait(0.5)
    if args.down_project:
        print(codes[first[0]])
        converge(args, lambda r: r.down())
        return codes[first[0]]
    for c in containers:
        print(codes[c.id])
    # the status of the container that stopped first (by its record: several may be gone already)
    earliest = min(containers, key=lambda c: rec.engine.inspect_container(c.id).finished_at)
    return codes[earliest.id]
