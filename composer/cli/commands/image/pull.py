"""`composer image pull`: fetch an image from its registry."""
from __future__ import annotations

import argparse

HELP = "download an image from a registry"


def configure(p) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="print only the reference pulled")
    p.add_argument("--platform", help="os/arch[/variant] (default: this host's)")
    p.add_argument("-a", "--all-tags", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("image")


def run(args) -> int | None:
    from composer.cli.transfer_progress import display
    from composer.errors import ComposerError
    from engine.api import Engine

    if args.all_tags:
        raise ComposerError("image pull --all-tags is not supported: name each tag")
    result = Engine().pull_image(args.image, display(args), args.platform)
    print(result.reference)
    return 0
