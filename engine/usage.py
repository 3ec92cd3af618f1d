"""`system df`: space used by images, containers and volumes, and how much of it is reclaimable."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class UsageRow:
    type: str  # Images | Containers | Local Volumes | Build Cache
    total: int
    active: int
    size: int
    reclaimable: int


def tree_size(path: str) -> int:
    """Bytes of the files under *path* (each inode once), without following symlinks."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames + dirnames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512 if name in filenames else 0
    return total


def disk_usage(engine) -> list[UsageRow]:
    images = engine.list_images()
    containers = engine.list_containers()
    used_images = {c.image_id for c in containers}
    blobs = engine.images.blobs

    def layer_bytes(image_set) -> int:
        layers = {d for i in image_set for d in i.layers}
        return sum(blobs.size(d) for d in layers if blobs.has(d))

    image_size = layer_bytes(images)
    unused = [i for i in images if i.id not in used_images]
    in_use_layers = {d for i in images if i.id in used_images for d in i.layers}
    reclaim = sum(blobs.size(d) for d in {d for i in unused for d in i.layers} - in_use_layers if blobs.has(d))
    rows = [UsageRow("Images", len(images), len(used_images & {i.id for i in images}), image_size, reclaim)]

    sizes = {c.id: tree_size(os.path.join(engine.paths.container_dir(c.id), "upper")) for c in containers}
    running = [c for c in containers if c.status == "running"]
    rows.append(UsageRow("Containers", len(containers), len(running), sum(sizes.values()),
                         sum(s for cid, s in sizes.items() if cid not in {c.id for c in running})))

    volumes = engine.list_volumes()
    used_volumes = {m.source for c in containers for m in c.spec.mounts if m.type == "volume"}
    vsizes = {v.name: tree_size(v.mountpoint) for v in volumes}
    rows.append(UsageRow("Local Volumes", len(volumes), len(used_volumes & set(vsizes)), sum(vsizes.values()),
                         sum(s for n, s in vsizes.items() if n not in used_volumes)))
    from engine.images.build.cache import usage

    entries, cached = usage(engine.paths, blobs, {d for i in images for d in i.layers})
    rows.append(UsageRow("Build Cache", entries, 0, cached, cached))
    return rows
