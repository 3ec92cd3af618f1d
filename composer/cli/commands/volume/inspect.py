"""`composer volume inspect`: show volumes' details."""
from __future__ import annotations

HELP = "show volumes' details"


def configure(p) -> None:
    p.add_argument("names", nargs="+")


def docker_form(v) -> dict:
    """A volume as `docker volume inspect` prints it."""
    return {"CreatedAt": v.created, "Driver": v.driver, "Labels": v.labels, "Mountpoint": v.mountpoint,
            "Name": v.name, "Options": v.options or None, "Scope": "local"}


def run(args) -> int | None:
    import json

    from engine.api import Engine

    engine = Engine()
    print(json.dumps([docker_form(engine.inspect_volume(n)) for n in args.names], indent=4))
    return 0
