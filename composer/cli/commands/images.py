"""`composer images`: the images the stack's containers use."""
from __future__ import annotations

HELP = "list the images used by the stack's containers"


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="only image ids")
    p.add_argument("--format", default="table", help="table or json")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int | None:
    import json

    from composer import labels
    from composer.cli.output import human_size, short_id, table
    from composer.cli.project import load_project
    from engine.api import Engine
    from engine.api import EngineError, NotFound
    from engine.api import parse_reference as parse

    project = load_project(args)
    for n in args.services:
        project.service(n)
    engine = Engine()
    rows = []
    seen_ids: list[str] = []
    for c in engine.list_containers(labels={labels.LABEL_PROJECT: project.name}):
        if args.services and c.labels.get(labels.LABEL_SERVICE) not in args.services:
            continue
        try:
            image = engine.inspect_image(c.image_id)
        except NotFound:
            continue
        repo, tag = c.image, ""
        try:
            ref = parse(c.image)
            repo, tag = ref.familiar_name, ref.tag or ""
        except EngineError:  # an image id: shown as is
            pass
        if image.id not in seen_ids:
            seen_ids.append(image.id)
        rows.append({"ContainerName": c.name, "Repository": repo, "Tag": tag, "ID": short_id(image.id),
                     "Size": image.size})
    if args.quiet:
        for i in seen_ids:
            print(short_id(i))
    elif args.format == "json":
        print(json.dumps(rows))
    else:
        print(table(["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
                    [[r["ContainerName"], r["Repository"], r["Tag"], r["ID"], human_size(r["Size"])] for r in rows]))
    return 0
