"""`composer image ls`: list images."""
from __future__ import annotations

HELP = "list images"


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format", default="table")


def run(args) -> int | None:
    import json

    from composer.cli.output import ago, human_size, short_id, table
    from engine.api import Engine

    images = Engine().list_images()
    if args.quiet:
        for i in images:
            print(short_id(i.id))
        return 0
    rows = []
    for i in images:
        for tag in i.repo_tags or ["<none>:<none>"]:
            repo, _, t = tag.rpartition(":")
            if args.format == "json":
                print(json.dumps({"ID": short_id(i.id), "Repository": repo, "Tag": t,
                                  "CreatedSince": ago(i.created), "CreatedAt": i.created, "Size": human_size(i.size)}))
            rows.append([repo, t, short_id(i.id), ago(i.created), human_size(i.size)])
    if args.format != "json":
        print(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows))
    return 0
