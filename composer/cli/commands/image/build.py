"""`composer image build`: build an image from a Dockerfile."""
from __future__ import annotations

HELP = "build an image from a Dockerfile"


def configure(p) -> None:
    p.add_argument("-t", "--tag", action="append", default=[], help="name:tag for the image (repeatable)")
    p.add_argument("-f", "--file", dest="dockerfile", help="the Dockerfile (default CONTEXT/Dockerfile)")
    p.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE", help="set a build arg")
    p.add_argument("--target", help="build this stage")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="set a label on the image")
    p.add_argument("--network", help="an engine network for RUN steps (default: none, loopback only)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    p.add_argument("context", help="the build context directory")


def pairs(items: list[str], what: str) -> dict[str, str]:
    import os

    from composer.errors import ComposerError

    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise ComposerError(f"invalid {what} {item!r}: use KEY=VALUE")
        if not eq:  # like Docker: KEY alone takes the value from the environment, if set
            if key not in os.environ:
                continue
            value = os.environ[key]
        out[key] = value
    return out


def run(args) -> int | None:
    import os
    import sys

    from engine.api import Engine

    dockerfile = args.dockerfile
    if dockerfile and dockerfile != "-":
        dockerfile = os.path.abspath(dockerfile)  # like docker build: -f is relative to where you are
    inline = sys.stdin.read() if dockerfile == "-" else None

    def show(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    info = Engine().build_image(args.context, dockerfile=None if inline is not None else dockerfile,
                                tags=args.tag, build_args=pairs(args.build_arg, "--build-arg"),
                                target=args.target, no_cache=args.no_cache, labels=pairs(args.label, "--label"),
                                progress=None if args.quiet else show, dockerfile_inline=inline,
                                network=args.network)
    if args.quiet:
        print(info.id)
