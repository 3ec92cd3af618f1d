"""The `composer` command: global options, then one module per command under composer/cli/commands/.

A command module defines HELP, configure(parser) and run(args); a group (image, volume, ...) is a
package there whose modules are its actions. Only the module of the command being run is imported,
so adding commands costs nothing at start-up.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMANDS_PACKAGE = "composer.cli.commands"


def global_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="composer", add_help=False,
                                description="Multi-container stacks on an embedded engine.")
    p.add_argument("-h", "--help", action="store_true", help="show this help")
    p.add_argument("--root", help="engine root directory (env COMPOSER_ROOT, default /var/lib/composer)")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="FILE",
                   help="stack file(s), merged in order (default: compose.yaml and its override)")
    p.add_argument("-p", "--project-name", dest="project_name", help="project name")
    p.add_argument("--project-directory", dest="project_dir", help="project directory (default: the first file's)")
    p.add_argument("--env-file", dest="env_files", action="append", default=[], help="environment file(s)")
    p.add_argument("--profile", dest="profiles", action="append", default=[], help="enable a profile")
    p.add_argument("--ansi", choices=["never", "always", "auto"], default="auto", help="control characters")
    p.add_argument("--progress", choices=["auto", "tty", "plain", "json", "quiet"], default="auto",
                   help="how progress is shown")
    p.add_argument("--dry-run", action="store_true", help="show what would be done, change nothing")
    p.add_argument("command", nargs="?", metavar="COMMAND")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def _module_name(word: str) -> str:
    return word.replace("-", "_")


def _find(package: str, word: str):
    """The module for a command or action word, or None. Keywords are spelled with a trailing _."""
    if not word or word.startswith(("_", "-")) or not word.replace("-", "").isalnum():
        return None
    for name in (_module_name(word), _module_name(word) + "_"):
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{package}.{name}":
                raise
    return None


def _listing(package: str) -> list[tuple[str, str]]:
    import pkgutil

    pkg = importlib.import_module(package)
    rows = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{package}.{info.name}")
        rows.append((info.name.rstrip("_").replace("_", "-"), getattr(mod, "HELP", "")))
    return sorted(rows)


def _print_help(parser: argparse.ArgumentParser, package: str, title: str) -> None:
    parser.print_help()
    print(f"\n{title}:")
    for name, text in _listing(package):
        print(f"  {name:<12} {text}")


def _command_parser(prog: str, module) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=getattr(module, "HELP", None))
    module.configure(p)
    # Docker Compose takes --dry-run after the command too
    p.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def resolve(argv: list[str]):
    """Parse *argv* into (args, run function); prints help and exits for --help and unknown words."""
    top = global_parser()
    args = top.parse_args(argv)
    if args.help or args.command is None:
        _print_help(top, COMMANDS_PACKAGE, "Commands")
        sys.exit(0)
    module = _find(COMMANDS_PACKAGE, args.command)
    if module is None:
        top.error(f"unknown command {args.command!r} (see composer --help)")
    prog = f"composer {args.command}"
    rest = args.rest
    if hasattr(module, "__path__"):  # a group: the next word is the action
        group_parser = argparse.ArgumentParser(prog=prog, description=getattr(module, "HELP", None), add_help=False)
        if not rest or rest[0] in ("-h", "--help"):
            _print_help(group_parser, module.__name__, "Actions")
            sys.exit(0 if rest else 2)
        action = _find(module.__name__, rest[0])
        if action is None:
            group_parser.error(f"unknown action {rest[0]!r} (see {prog} --help)")
        args.action = rest[0]
        prog, module, rest = f"{prog} {rest[0]}", action, rest[1:]
    sub = _command_parser(prog, module).parse_args(rest)
    for key, value in vars(sub).items():
        setattr(args, key, value)
    del args.rest, args.help
    return args, module.run


def main(argv: list[str] | None = None) -> int:
    args, run = resolve(sys.argv[1:] if argv is None else argv)
    if args.root:
        os.environ["COMPOSER_ROOT"] = os.path.abspath(args.root)
    from composer.errors import ComposerError
    from engine.api import EngineError

    try:
        return run(args) or 0
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


def run_cli() -> None:
    """The `composer` command: main(), then an immediate exit. Once a command is done, tearing the
    interpreter down (modules, objects, idle worker threads) is only cost: ~20 ms of every command."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass
        except OSError:
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run_cli()
