"""`composer image history`: the layers and steps an image was made of."""
from __future__ import annotations

HELP = "show the history of an image"


def configure(p) -> None:
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true", help="only image ids")
    p.add_argument("-H", "--human", default="true", help="sizes and dates in human form (default true)")
    p.add_argument("--format", default="table", help="table or json")
    p.add_argument("image")


def run(args) -> int | None:
    import json

    from composer.cli.output import ago, human_size, short_id, table
    from engine.api import Engine

    rows = Engine().image_history(args.image)
    human = args.human.lower() not in ("false", "0", "no")

    def ident(i: str) -> str:
        return i if i == "<missing>" or args.no_trunc else short_id(i)

    if args.quiet:
        for r in rows:
            print(ident(r["id"]))
        return 0
    if args.format == "json":
        for r in rows:
            print(json.dumps({"ID": ident(r["id"]), "CreatedAt": r["created"], "CreatedSince": ago(r["created"]),
                              "CreatedBy": r["created_by"], "Size": human_size(r["size"]), "Comment": r["comment"],
                              "Tags": r["tags"]}))
        return 0
    out = []
    for r in rows:
        created_by = r["created_by"] if args.no_trunc or len(r["created_by"]) <= 45 else r["created_by"][:44] + "…"
        out.append([ident(r["id"]), ago(r["created"]) if human else r["created"], created_by,
                    human_size(r["size"]) if human else str(r["size"]), r["comment"]])
    print(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], out))
    return 0
