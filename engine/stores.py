"""The stores of one engine root, handed to the services that work on them.

The container records are opened at once; the event journal and the image, network and volume
stores on first use, so a command pays only for what it touches (`ps` never imports the network
code, a no-op `up` never the builder's).
"""
from __future__ import annotations

from functools import cached_property

from engine.containers.records import Records
from engine.paths import Paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.events import Journal
    from engine.images.store import ImageStore
    from engine.network.manager import Networks
    from engine.volumes.local import Volumes


class Stores:
    def __init__(self, paths: Paths):
        self.paths = paths
        self.records = Records(paths)

    @cached_property
    def events(self) -> Journal:
        from engine.events import Journal

        return Journal(self.paths.root)

    @cached_property
    def images(self) -> ImageStore:
        from engine.images.store import ImageStore

        return ImageStore(self.paths)

    @cached_property
    def networks(self) -> Networks:
        from engine.network.manager import Networks

        return Networks(self.paths)

    @cached_property
    def volumes(self) -> Volumes:
        from engine.volumes.local import Volumes

        return Volumes(self.paths)
