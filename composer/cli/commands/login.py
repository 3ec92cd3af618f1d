"""`composer login`: store credentials for a registry (in the Docker client config)."""
from __future__ import annotations

HELP = "log in to a registry"


def configure(p) -> None:
    p.add_argument("-u", "--username")
    p.add_argument("-p", "--password")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("server", nargs="?", default="docker.io")


def run(args) -> int | None:
    import sys

    from composer.errors import ComposerError
    from engine.api import Engine

    server = args.server.removeprefix("https://").removeprefix("http://").split("/")[0]
    if server == "index.docker.io":
        server = "docker.io"
    password = args.password
    if args.password_stdin:
        if password:
            raise ComposerError("--password and --password-stdin are mutually exclusive")
        if not args.username:
            raise ComposerError("--password-stdin needs --username")
        password = sys.stdin.read().rstrip("\r\n")
    username = args.username
    if not username or password is None:
        if not sys.stdin.isatty():
            raise ComposerError("cannot ask for credentials without a terminal: give --username and "
                                "--password-stdin")
        import getpass

        username = username or input("Username: ").strip()
        password = password if password is not None else getpass.getpass("Password: ")
    if args.password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", file=sys.stderr)
    Engine().login(server, username, password)
    print("Login Succeeded")
    return 0
