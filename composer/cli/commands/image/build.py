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
    p.add_argument("--secret", action="append", default=[], metavar="id=ID[,src=FILE|env=VAR]",
                   help="a secret for RUN --mount=type=secret (repeatable); never stored in the image")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    p.add_argument("context", help="the build context directory")


def secrets(items: list[str]) -> dict[str, bytes]:
    """`--secret id=ID[,type=file|env][,src=FILE|env=VAR]` values as {id: value}, as docker build takes
    them: without src or env, the variable named ID if set, else the file named ID."""
    import os

    from composer.errors import ComposerError

    out: dict[str, bytes] = {}
    for item in items:
        fields = {}
        for part in filter(None, item.split(",")):
            key, eq, value = part.partition("=")
            if not eq:
                raise ComposerError(f"--secret {item}: {part!r} is not KEY=VALUE")
            fields[key.strip().lower()] = value
        ident = fields.pop("id", "")
        kind = fields.pop("type", "")
        src = fields.pop("src", fields.pop("source", ""))
        var = fields.pop("env", "")
        if not ident or fields or kind not in ("", "file", "env"):
            raise ComposerError(f"--secret {item}: use id=ID[,src=FILE] or id=ID,env=VAR")
        if kind == "env" and not var:
            var, src = src or ident, ""
        if not src and not var:
            if kind != "file" and ident in os.environ:
                var = ident
            else:
                src = ident
        if var:
            if var not in os.environ:
                raise ComposerError(f"--secret {item}: the environment variable {var} is not set")
            out[ident] = os.environ[var].encode(errors="surrogateescape")
            continue
        try:
            with open(src, "rb") as f:
                out[ident] = f.read()
        except OSError as e:
            raise ComposerError(f"--secret {item}: cannot read {src}: {e.strerror}") from None
    return out


def run(args) -> int | None:
    import os
    import sys

    from composer.cli.keyvalue import pairs
    from engine.api import Engine

    dockerfile = args.dockerfile
    if dockerfile and dockerfile != "-":
        dockerfile = os.path.abspath(dockerfile)  # like docker build: -f is relative to where you are
    inline = sys.stdin.read() if dockerfile == "-" else None

    def show(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    info = Engine().build_image(args.context, dockerfile=None if inline is not None else dockerfile,
                                tags=args.tag, build_args=pairs(args.build_arg, "--build-arg", bare="environment"),
                                target=args.target, no_cache=args.no_cache, labels=pairs(args.label, "--label"),
                                progress=None if args.quiet else show, dockerfile_inline=inline,
                                network=args.network, secrets=secrets(args.secret))
    if args.quiet:
        print(info.id)
