"""`composer stats`: live resource use of services' containers (CPU, memory, network, block I/O, pids)."""
from __future__ import annotations

HELP = "display a live stream of container resource usage"
INTERVAL = 1.0


def configure(p) -> None:
    p.add_argument("-a", "--all", action="store_true", help="all containers, not only running ones")
    p.add_argument("--no-stream", action="store_true", help="print one sample and exit")
    p.add_argument("--no-trunc", action="store_true", help="full container IDs")
    p.add_argument("--format", default="table", help="table or json")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def binary_size(n: float) -> str:
    """1.5MiB, as Docker prints memory."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.4g}{unit}"
        n /= 1024
    return f"{n}B"


def decimal_size(n: float) -> str:
    """1.2kB, as Docker prints network and block I/O."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g}{unit}"
        n /= 1000
    return f"{n}B"


def cpu_percent(before: dict, after: dict) -> float:
    """Share of one CPU used between two samples (100% is one full core, as Docker counts)."""
    wall = after["time_ns"] - before["time_ns"]
    return max(after["cpu_ns"] - before["cpu_ns"], 0) / wall * 100.0 if wall > 0 else 0.0


def entry(c, before: dict | None, after: dict | None, full_id: bool) -> dict:
    cid = c.id if full_id else c.id[:12]
    if not after:
        return {"BlockIO": "--", "CPUPerc": "--", "Container": cid, "ID": cid, "MemPerc": "--",
                "MemUsage": "-- / --", "Name": c.name, "NetIO": "--", "PIDs": "--"}
    cpu = cpu_percent(before, after) if before else 0.0
    limit = after["memory_limit"] or 1
    return {
        "BlockIO": f"{decimal_size(after['block_read'])} / {decimal_size(after['block_write'])}",
        "CPUPerc": f"{cpu:.2f}%", "Container": cid, "ID": cid,
        "MemPerc": f"{after['memory_usage'] * 100 / limit:.2f}%",
        "MemUsage": f"{binary_size(after['memory_usage'])} / {binary_size(after['memory_limit'])}",
        "Name": c.name, "NetIO": f"{decimal_size(after['net_rx'])} / {decimal_size(after['net_tx'])}",
        "PIDs": str(after["pids"]),
    }


def _samples(engine, containers) -> dict[str, dict]:
    from engine.api import EngineError

    out = {}
    for c in containers:
        try:
            out[c.id] = engine.container_stats(c.id)
        except EngineError:
            pass  # not running (any more)
    return out


def render(entries: list[dict], fmt: str) -> str:
    import json

    from composer.cli.output import table

    if fmt == "json":
        return "\n".join(json.dumps(e) for e in entries)
    rows = [[e["ID"], e["Name"], e["CPUPerc"], e["MemUsage"], e["MemPerc"], e["NetIO"], e["BlockIO"], e["PIDs"]]
            for e in entries]
    return table(["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"],
                 rows)


def run(args) -> int:
    import sys
    import time

    from composer.cli.project import reconciler, selected
    from composer.errors import ComposerError

    if args.format not in ("table", "json"):
        raise ComposerError(f"unknown --format {args.format!r}: use table or json")
    rec = reconciler(args)
    containers = [c for c in selected(rec, args.services) if args.all or c.status == "running"]
    before = _samples(rec.engine, containers)
    tty = sys.stdout.isatty()
    try:
        while True:
            time.sleep(INTERVAL)
            after = _samples(rec.engine, containers)
            text = render([entry(c, before.get(c.id), after.get(c.id), args.no_trunc) for c in containers],
                          args.format)
            if tty and not args.no_stream:
                sys.stdout.write("\033[2J\033[H")
            print(text, flush=True)
            if args.no_stream:
                return 0
            before = after
    except KeyboardInterrupt:
        return 0
