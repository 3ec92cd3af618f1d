"""`composer pull`: pull the images of the stack's services."""
from __future__ import annotations

HELP = "pull the images of the stack's services"


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--ignore-pull-failures", action="store_true", help="pull what can be pulled, skip failures")
    p.add_argument("--ignore-buildable", action="store_true", help="skip services that have build:")
    p.add_argument("--include-deps", action="store_true", help="also the services the named ones depend on")
    p.add_argument("--policy", choices=["missing", "always"], help="pull only missing images, or all (default)")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int | None:
    from composer.cli.project import load_project
    from composer.cli.transfer_progress import display
    from composer.labels import image_name
    from composer.converge.pull import check_policy, pull_images
    from engine.api import Engine
    from engine.api import NotFound

    project = load_project(args)
    names = list(args.services)
    for n in names:
        project.service(n)
    if names and args.include_deps:
        from composer.graph import Graph

        names = sorted(Graph(project).with_dependencies(names))
    engine = Engine()
    images: dict[str, list[str]] = {}
    for svc in project.services.values():
        if names and svc.name not in names:
            continue
        policy = check_policy(svc.pull_policy, f"services.{svc.name}.pull_policy")
        buildable = svc.build is not None
        if policy in ("build", "never") or (buildable and (args.ignore_buildable or svc.image is None)):
            continue
        name = image_name(project, svc)
        if args.policy == "missing":
            try:
                engine.inspect_image(name)
                continue
            except NotFound:
                pass
        images.setdefault(name, []).append(svc.name)
    pull_images(engine, images, display(args), ignore_failures=args.ignore_pull_failures or False)
    return 0
