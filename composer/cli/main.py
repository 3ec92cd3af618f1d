"""The `composer` command: argument parsing and dispatch. Subcommand modules are imported lazily."""
from __future__ import annotations

import argparse
import os
import sys


def _stack_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="FILE",
                   help="stack file(s), merged in order (default: compose.yaml and its override)")
    p.add_argument("-p", "--project-name", dest="project_name", help="project name")
    p.add_argument("--project-directory", dest="project_dir", help="project directory (default: the first file's)")
    p.add_argument("--env-file", dest="env_files", action="append", default=[], help="environment file(s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="composer", description="Multi-container stacks on an embedded engine.")
    parser.add_argument("--root", help="engine root directory (env COMPOSER_ROOT, default /var/lib/composer)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    _stack_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("up", help="create and start the stack's containers")
    p.add_argument("-d", "--detach", action="store_true", help="run in the background")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = sub.add_parser("down", help="stop and remove containers and networks")
    p.add_argument("-v", "--volumes", action="store_true", help="also remove named volumes")
    p.add_argument("--remove-orphans", action="store_true")
    p.add_argument("-t", "--timeout", type=float, help="seconds to wait for a container to stop")

    p = sub.add_parser("ps", help="list the stack's containers")
    p.add_argument("-a", "--all", action="store_true", help="also stopped containers")
    p.add_argument("-q", "--quiet", action="store_true", help="only IDs")
    p.add_argument("--services", action="store_true", help="only service names")
    p.add_argument("--format", default="table", help="table or json")
    p.add_argument("services_filter", nargs="*", metavar="SERVICE")

    p = sub.add_parser("logs", help="show the containers' output")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--no-log-prefix", action="store_true")
    p.add_argument("services", nargs="*", metavar="SERVICE")

    p = sub.add_parser("exec", help="run a command in a running service container")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true", help="no pseudo-terminal")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-u", "--user")
    p.add_argument("-w", "--workdir")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("--index", type=int, default=1)
    p.add_argument("service")
    p.add_argument("cmd", nargs=argparse.REMAINDER)

    for name, text in (("stop", "stop services"), ("start", "start stopped services"),
                       ("restart", "restart services")):
        p = sub.add_parser(name, help=text)
        if name != "start":
            p.add_argument("-t", "--timeout", type=float)
        p.add_argument("services", nargs="*", metavar="SERVICE")

    p = sub.add_parser("config", help="print the resolved stack")
    p.add_argument("--format", default="yaml", choices=["yaml", "json"])
    p.add_argument("--services", action="store_true")
    p.add_argument("--volumes", action="store_true")
    p.add_argument("--networks", action="store_true")
    p.add_argument("--images", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-interpolate", action="store_true")

    sub.add_parser("version", help="show the version")

    # engine object groups
    img = sub.add_parser("image", help="manage images").add_subparsers(dest="action", metavar="ACTION")
    p = img.add_parser("import", help="make an image from a root filesystem tarball")
    p.add_argument("source", help="tarball path, or - for standard input")
    p.add_argument("reference", nargs="?")
    p.add_argument("-c", "--change", action="append", default=[], help="a Dockerfile instruction to apply")
    p = img.add_parser("load", help="load images from a `docker save` or OCI archive")
    p.add_argument("-i", "--input", required=True)
    p.add_argument("-q", "--quiet", action="store_true")
    p = img.add_parser("ls", help="list images")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format", default="table")
    p = img.add_parser("inspect", help="show an image's details")
    p.add_argument("images", nargs="+")
    p = img.add_parser("rm", help="remove images")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("images", nargs="+")
    p = img.add_parser("tag", help="give an image another name")
    p.add_argument("source")
    p.add_argument("target")

    vol = sub.add_parser("volume", help="manage volumes").add_subparsers(dest="action", metavar="ACTION")
    p = vol.add_parser("ls", help="list volumes")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--format", default="table")
    p = vol.add_parser("create", help="create a volume")
    p.add_argument("name")
    p.add_argument("-d", "--driver", default="local")
    p = vol.add_parser("inspect", help="show a volume's details")
    p.add_argument("names", nargs="+")
    p = vol.add_parser("rm", help="remove volumes")
    p.add_argument("names", nargs="+")

    net = sub.add_parser("network", help="manage networks").add_subparsers(dest="action", metavar="ACTION")
    p = net.add_parser("ls", help="list networks")
    p.add_argument("-q", "--quiet", action="store_true")
    p = net.add_parser("create", help="create a network")
    p.add_argument("name")
    p = net.add_parser("inspect", help="show a network's details")
    p.add_argument("names", nargs="+")
    p = net.add_parser("rm", help="remove networks")
    p.add_argument("names", nargs="+")

    ctr = sub.add_parser("container", help="manage single containers").add_subparsers(dest="action", metavar="ACTION")
    p = ctr.add_parser("run", help="run a command in a new container, in the foreground")
    p.add_argument("--rm", action="store_true", help="remove the container when it exits")
    p.add_argument("--name")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-w", "--workdir")
    p.add_argument("-u", "--user")
    p.add_argument("--entrypoint")
    p.add_argument("--network", help="an existing network to join (default: none but loopback)")
    p.add_argument("image")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p = ctr.add_parser("ls", help="list containers")
    p.add_argument("-a", "--all", action="store_true")
    p = ctr.add_parser("rm", help="remove containers")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("containers", nargs="+")
    p = ctr.add_parser("logs", help="show a container's output")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("container")
    p = ctr.add_parser("inspect", help="show a container's details")
    p.add_argument("containers", nargs="+")
    p = ctr.add_parser("stop", help="stop containers")
    p.add_argument("-t", "--timeout", type=float)
    p.add_argument("containers", nargs="+")
    return parser


STACK_COMMANDS = {"up", "down", "ps", "logs", "exec", "stop", "start", "restart", "config"}
ENGINE_GROUPS = {"image", "volume", "network", "container"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command in ENGINE_GROUPS and getattr(args, "action", None) is None:
        parser.parse_args([args.command, "--help"])
    if args.root:
        os.environ["COMPOSER_ROOT"] = os.path.abspath(args.root)
    from composer.errors import ComposerError
    from engine.api import EngineError

    try:
        if args.command == "version":
            from composer import __version__

            print(f"composer version {__version__}")
            return 0
        if args.command in STACK_COMMANDS:
            from composer.cli import stack

            return stack.dispatch(args) or 0
        from composer.cli import objects

        return objects.dispatch(args) or 0
    except (ComposerError, EngineError) as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the last resort: one line, never a traceback
        if args.debug:
            raise
        print(f"error: unexpected failure: {type(e).__name__}: {e} (run with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
