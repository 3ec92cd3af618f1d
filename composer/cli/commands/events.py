"""`composer events`: what happens to the project's containers, as it happens."""
from __future__ import annotations

HELP = "stream the stack's container events"


def configure(p) -> None:
    p.add_argument("--json", action="store_true", help="one JSON object per event")
    p.add_argument("--since", help="show events since this time (RFC 3339, unix seconds, or 10m/2h ago)")
    p.add_argument("--until", help="stop at this time (same forms as --since)")
    p.add_argument("services", nargs="*", metavar="SERVICE")


def run(args) -> int:
    import json
    from datetime import datetime, timezone

    from composer import labels
    from composer.cli.project import reconciler
    from composer.cli.timearg import parse_log_time

    rec = reconciler(args)
    for name in args.services:
        rec.project.service(name)
    since = parse_log_time(args.since, "--since") if args.since else None
    until = parse_log_time(args.until, "--until") if args.until else None
    follow = until is None or until > datetime.now().timestamp()
    known: dict[str, dict] = {}  # container id -> attributes of its earlier events (for die/oom)
    for event in rec.engine.events(since, until, follow):
        if event.get("type") != "container":
            continue
        attrs = {**known.get(event["id"], {}), **event.get("attributes", {})}
        known[event["id"]] = attrs
        if attrs.get(labels.LABEL_PROJECT) != rec.project.name or attrs.get(labels.LABEL_ONEOFF) == "True":
            continue
        service = attrs.get(labels.LABEL_SERVICE, "")
        if args.services and service not in args.services:
            continue
        when = datetime.fromtimestamp(event["timeNano"] / 1e9, timezone.utc)
        shown = {k: v for k, v in attrs.items() if not k.startswith("com.docker.compose.")}
        if args.json:
            print(json.dumps({"time": when.isoformat().replace("+00:00", "Z"), "type": "container",
                              "action": event["action"], "id": event["id"], "service": service,
                              "attributes": shown}), flush=True)
        else:
            extra = ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))
            print(f"{when.strftime('%Y-%m-%d %H:%M:%S.%f')} container {event['action']} {event['id']} ({extra})",
                  flush=True)
    return 0
