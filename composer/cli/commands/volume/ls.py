"""`composer volume ls`: list volumes."""
from __future__ import annotations

HELP = "list volumes"
FILTERS = ("dangling", "name", "label", "driver")


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="only names")
    p.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="dangling=true|false, name=PART, label=KEY[=VALUE], driver=NAME (repeatable)")
    p.add_argument("--format", default="table", help="table or json")


def _selector(filters: list[str], users: dict[str, list[str]]):
    """A predicate for Docker's `volume ls --filter`: the same key ORs, different keys AND."""
    from composer.errors import ComposerError

    by_key: dict[str, list[str]] = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if key not in FILTERS or not sep:
            raise ComposerError(f"invalid filter {f!r} (use {', '.join(k + '=...' for k in FILTERS)})")
        if key == "dangling" and value.lower() not in ("true", "false", "1", "0"):
            raise ComposerError(f"invalid filter {f!r}: dangling takes true or false")
        by_key.setdefault(key, []).append(value)

    def one(key: str, value: str, v) -> bool:
        if key == "dangling":
            return (not users.get(v.name)) == (value.lower() in ("true", "1"))
        if key == "name":
            return value in v.name
        if key == "driver":
            return v.driver == value
        k, sep, val = value.partition("=")
        return k in v.labels and (not sep or v.labels[k] == val)

    return lambda v: all(any(one(k, val, v) for val in vals) for k, vals in by_key.items())


def run(args) -> int | None:
    import json

    from composer.cli.output import table
    from engine.api import Engine

    engine = Engine()
    keep = _selector(args.filter, engine.volume_users() if args.filter else {})
    vols = [v for v in engine.list_volumes() if keep(v)]
    if args.quiet:
        if vols:
            print("\n".join(v.name for v in vols))
    elif args.format == "json":
        for v in vols:
            print(json.dumps({"Driver": v.driver, "Labels": ",".join(f"{k}={x}" for k, x in v.labels.items()),
                              "Mountpoint": v.mountpoint, "Name": v.name, "Scope": "local"}))
    else:
        print(table(["DRIVER", "VOLUME NAME"], [[v.driver, v.name] for v in vols]))
    return 0
