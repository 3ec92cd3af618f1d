"""`composer ls`: the projects this engine root has containers of."""
from __future__ import annotations

HELP = "list running projects"


def configure(p) -> None:
    p.add_argument("-a", "--all", action="store_true", help="also projects whose containers are all stopped")
    p.add_argument("-q", "--quiet", action="store_true", help="only names")
    p.add_argument("--format", default="table", choices=["table", "json"])
    p.add_argument("--filter", action="append", default=[], metavar="name=VALUE", help="only matching projects")


def projects(containers) -> dict[str, dict]:
    from composer import labels

    out: dict[str, dict] = {}
    for c in containers:
        name = c.labels.get(labels.LABEL_PROJECT)
        if not name:
            continue
        entry = out.setdefault(name, {"states": {}, "files": set()})
        entry["states"][c.status] = entry["states"].get(c.status, 0) + 1
        files = c.labels.get(labels.LABEL_FILES)
        if files:
            entry["files"].update(files.split(","))
    return out


def run(args) -> int:
    import json

    from composer.cli.output import table
    from composer.errors import ComposerError
    from engine.api import Engine

    wanted = []
    for f in args.filter:
        key, _, value = f.partition("=")
        if key != "name":
            raise ComposerError(f"invalid filter {f!r}: only name=VALUE is supported")
        wanted.append(value)
    rows = []
    for name, entry in sorted(projects(Engine().list_containers()).items()):
        if wanted and not any(w in name for w in wanted):
            continue
        if not args.all and "running" not in entry["states"]:
            continue
        status = ", ".join(f"{state}({n})" for state, n in sorted(entry["states"].items()))
        rows.append({"Name": name, "Status": status, "ConfigFiles": ",".join(sorted(entry["files"]))})
    if args.quiet:
        for r in rows:
            print(r["Name"])
    elif args.format == "json":
        print(json.dumps(rows))
    else:
        print(table(["NAME", "STATUS", "CONFIG FILES"], [[r["Name"], r["Status"], r["ConfigFiles"]] for r in rows]))
    return 0
