"""`composer system info`: what this engine is and holds."""
from __future__ import annotations

HELP = "show engine-wide information"


def configure(p) -> None:
    p.add_argument("--format", default="table", help="table or json")


def info() -> dict:
    import os
    import platform

    from composer import __version__
    from engine.api import Engine

    engine = Engine()
    containers = engine.list_containers()
    states = [c.status for c in containers]
    cgroup = "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"
    return {
        "ServerVersion": __version__, "Root": engine.paths.root, "RootID": engine.paths.root_id,
        "Containers": len(containers), "ContainersRunning": states.count("running"),
        "ContainersPaused": states.count("paused"), "ContainersStopped": states.count("exited"),
        "Images": len(engine.list_images()), "Volumes": len(engine.list_volumes()),
        "Networks": len(engine.list_networks()), "CgroupVersion": cgroup,
        "CgroupParent": engine.paths.cgroup_parent, "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(), "Architecture": platform.machine(), "NCPU": os.cpu_count(),
        "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def run(args) -> int:
    import json

    data = info()
    if args.format == "json":
        print(json.dumps(data))
    else:
        for key, value in data.items():
            print(f" {key}: {value}")
    return 0
