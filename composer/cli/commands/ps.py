"""`composer ps`: list the stack's containers."""
from __future__ import annotations

import json

from composer import labels
from composer.cli.output import ago, docker_time, table
from composer.errors import ComposerError
from engine.api import ContainerInfo

HELP = "list the stack's containers"


def configure(p) -> None:
    p.add_argument("-a", "--all", action="store_true", help="also stopped containers")
    p.add_argument("-q", "--quiet", action="store_true", help="only IDs")
    p.add_argument("--services", action="store_true", help="only service names")
    p.add_argument("--format", default="table", help="table, json, or a template like '{{.Name}} {{.Status}}'")
    p.add_argument("--status", action="append", default=[],
                   choices=["paused", "restarting", "removing", "running", "dead", "created", "exited"])
    p.add_argument("--filter", action="append", default=[], metavar="status=STATE", help="only matching containers")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    p.add_argument("services_filter", nargs="*", metavar="SERVICE")


def command_line(args: list[str]) -> str:
    """The command as Docker's container list shows it: the path, then the arguments joined by spaces,
    those with a space in single quotes."""
    return " ".join(args[:1] + [f"'{a}'" if " " in a else a for a in args[1:]])


def go_quote(text: str) -> str:
    """*text* in double quotes with Go's strconv.Quote escapes (a newline is `\\n`), as Docker prints it."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def command_text(c: ContainerInfo, image_config: dict | None = None, trunc: bool = True) -> str:
    """COMMAND: the container's argv (the image's entrypoint and CMD where the service sets none), cut
    to 20 characters (19 and an ellipsis) unless *trunc* is off, and quoted on one line."""
    from engine.api import process_args

    text = command_line(process_args(c.spec, image_config or {}))
    if trunc and len(text) > 20:
        text = text[:19] + "…"
    return go_quote(text)


def image_configs(engine, containers: list[ContainerInfo]) -> dict[str, dict]:
    """Image id -> its config, for the containers whose command comes from their image."""
    from engine.api import EngineError

    out: dict[str, dict] = {}
    for c in containers:
        if c.image_id in out or (c.spec.entrypoint is not None) or not c.image_id:
            continue
        try:
            out[c.image_id] = engine.inspect_image(c.image_id).config or {}
        except EngineError:
            out[c.image_id] = {}
    return out


HEALTH_TEXT = {"starting": " (health: starting)", "healthy": " (healthy)", "unhealthy": " (unhealthy)"}


def status_text(c: ContainerInfo) -> str:
    if c.status == "running":
        return ("Up " + ago(c.started_at).removesuffix(" ago") + (" (Paused)" if c.paused else "")
                + HEALTH_TEXT.get(c.health, ""))
    if c.status == "restarting":
        return f"Restarting ({c.exit_code}) {ago(c.finished_at)}".rstrip()
    if c.status == "exited" and c.oom_killed:
        return f"Exited ({c.exit_code}) {ago(c.finished_at)} (OOMKilled)".rstrip()
    if c.status == "exited":
        return f"Exited ({c.exit_code}) {ago(c.finished_at)}".rstrip()
    return c.status.capitalize()


def ports_text(c: ContainerInfo) -> str:
    return ", ".join(f"{f'[{p.host_ip}]' if ':' in p.host_ip else p.host_ip}:{p.host_port}->{p.container_port}/"
                     f"{p.protocol}" for p in c.ports)


def ps_entry(c: ContainerInfo, project: str, image_config: dict | None = None, trunc: bool = True) -> dict:
    return {
        "ID": c.id[:12], "Name": c.name, "Names": c.name, "Image": c.image,
        "Command": command_text(c, image_config, trunc),
        "Project": project, "Service": c.labels.get(labels.LABEL_SERVICE, ""), "CreatedAt": docker_time(c.created),
        "RunningFor": ago(c.created), "State": "paused" if c.paused else c.status,
        "OOMKilled": c.oom_killed, "Status": status_text(c), "Health": c.health if c.status == "running" else "",
        "ExitCode": c.exit_code,
        "Publishers": [{"URL": p.host_ip, "TargetPort": p.container_port, "PublishedPort": p.host_port,
                        "Protocol": p.protocol} for p in c.ports],
        "Ports": ports_text(c), "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
        "Networks": ",".join(sorted(c.networks)), "LocalVolumes": str(sum(1 for m in c.spec.mounts if m.type == "volume")),
        "Mounts": ",".join(m.source for m in c.spec.mounts if m.type == "volume"), "Size": "0B",
    }


def run(args) -> int:
    from composer.cli.project import reconciler, selected

    statuses = set(args.status)
    for f in args.filter:
        key, _, value = f.partition("=")
        if key != "status":
            raise ComposerError(f"invalid filter {f!r}: only status=STATE is supported")
        statuses.add(value)
    rec = reconciler(args)
    containers = [c for c in selected(rec, args.services_filter)
                  if (("paused" if c.paused else c.status) in statuses if statuses
                      else (args.all or c.status in ("running", "restarting")))]
    containers.sort(key=lambda c: c.name)  # as Docker Compose sorts them
    if args.services:
        for name in sorted({c.labels.get(labels.LABEL_SERVICE, "") for c in containers}):
            print(name)
        return 0
    if args.quiet:
        for c in containers:
            print(c.id)
        return 0
    configs = image_configs(rec.engine, containers)
    trunc = not args.no_trunc

    def entry(c: ContainerInfo) -> dict:
        return ps_entry(c, rec.project.name, configs.get(c.image_id), trunc)

    if args.format == "json":
        for c in containers:
            print(json.dumps(entry(c)))
    elif args.format == "table":
        rows = [[c.name, c.image, command_text(c, configs.get(c.image_id), trunc),
                 c.labels.get(labels.LABEL_SERVICE, ""), ago(c.created), status_text(c), ports_text(c)]
                for c in containers]
        print(table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], rows))
    elif "{{" in args.format:
        for c in containers:
            print(render_template(args.format, entry(c)))
    else:
        raise ComposerError(f"unknown --format {args.format!r}: use table, json or a {{{{.Field}}}} template")
    return 0


def render_template(template: str, entry: dict) -> str:
    """Docker's `{{.Field}}` templates, for plain field lookups (and `{{json .Field}}`)."""
    import re

    if template.startswith("table "):
        template = template[6:]
    template = template.replace("\\t", "\t").replace("\\n", "\n")

    def field(m: re.Match) -> str:
        name = m.group(2)
        if name not in entry:
            raise ComposerError(f"template: can't evaluate field {name}")
        return json.dumps(entry[name]) if m.group(1) else str(entry[name])

    return re.sub(r"\{\{\s*(json\s+)?\.(\w+)\s*\}\}", field, template)
