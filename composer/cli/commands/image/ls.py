"""`composer image ls`: list images."""
from __future__ import annotations

HELP = "list images"


def configure(p) -> None:
    p.add_argument("-a", "--all", action="store_true", help="also intermediate images")
    p.add_argument("-q", "--quiet", action="store_true", help="only image ids")
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument("--no-trunc", action="store_true", help="full image ids")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="dangling=true|false, before=IMAGE, since=IMAGE, reference=PATTERN, label=KEY[=VALUE]")
    p.add_argument("--format", default="table", help="table or json")
    p.add_argument("repository", nargs="?", help="only this repository[:tag]")


def rows_of(image) -> list[tuple[str, str, str]]:
    """(repository, tag, digest) rows of an image, as `docker images` shows them."""
    digests = {d.rpartition("@")[0]: d.rpartition("@")[2] for d in image.repo_digests}
    rows = []
    for tag in image.repo_tags:
        repo, _, t = tag.rpartition(":")
        rows.append((repo, t, digests.get(repo, "<none>")))
    if not rows:
        rows = [(repo, "<none>", digest) for repo, digest in digests.items()] or [("<none>", "<none>", "<none>")]
    return rows


def run(args) -> int | None:
    import json

    from composer.cli.output import ago, human_size, short_id, table
    from engine.api import Engine
    from engine.api import parse_image_filters as parse

    filters = parse(args.filter)
    if args.repository:
        filters.setdefault("reference", []).append(args.repository)
    images = Engine().list_images(filters)

    def ident(i: str) -> str:
        return i if args.no_trunc else short_id(i)

    if args.quiet:
        seen = []
        for i in images:
            if ident(i.id) not in seen:
                seen.append(ident(i.id))
        if seen:
            print("\n".join(seen))
        return 0
    rows = []
    for i in images:
        for repo, tag, digest in rows_of(i):
            if args.format == "json":
                print(json.dumps({"ID": ident(i.id), "Repository": repo, "Tag": tag, "Digest": digest,
                                  "CreatedSince": ago(i.created), "CreatedAt": i.created,
                                  "Size": human_size(i.size)}))
            row = [repo, tag] + ([digest] if args.digests else []) + [ident(i.id), ago(i.created), human_size(i.size)]
            rows.append(row)
    if args.format != "json":
        headers = ["REPOSITORY", "TAG"] + (["DIGEST"] if args.digests else []) + ["IMAGE ID", "CREATED", "SIZE"]
        print(table(headers, rows))
    return 0
