"""`composer logout`: forget the stored credentials of a registry."""
from __future__ import annotations

HELP = "log out from a registry"


def configure(p) -> None:
    p.add_argument("server", nargs="?", default="docker.io")


def run(args) -> int | None:
    from engine.api import Engine

    server = args.server.removeprefix("https://").removeprefix("http://").split("/")[0]
    if Engine().logout(server):
        print(f"Removing login credentials for {server}")
    else:
        print(f"Not logged in to {server}")
    return 0
