"""Value parsers: raw attribute values read, and short syntaxes turned into their long forms.

The long-form pass (composer.load.longform) and the typed model (composer.load.typed) use them;
nothing after the load reads raw values. Durations come as Go-style strings ("1m30s"), byte sizes
as strings of digits, booleans possibly as strings::

    parse_duration("1m30s")   # -> 90.0 seconds
    parse_bytes("512m")       # -> 536870912
    as_bool("false")          # -> False

Each takes *where* (a path, or a located one: "file:line: services.web.ports[0]") for its error.
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

from composer.errors import StackFileError

# -- durations ---------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def dotted(path: tuple) -> str:
    """A path as the user writes it: services.web.ports[0]."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(top level)"


def _fail(where: str, message: str) -> StackFileError:
    return StackFileError(f"{where}: {message}" if where else message)


def parse_duration(value: Any, where: str = "") -> float:
    """Seconds from a Go-style duration ("1m30s", "500ms", "-1s") or a bare number of seconds."""
    if isinstance(value, bool):
        raise _fail(where, f"invalid duration {value!r} (use forms like 10s, 1m30s, 500ms)")
    if isinstance(value, (int, float)):
        return _bounded_duration(float(value), value, where)
    text = str(value).strip()
    sign = 1.0
    if text[:1] in "+-" and text:
        sign, text = (-1.0 if text[0] == "-" else 1.0), text[1:]
    if text == "0":
        return 0.0
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _bounded_duration(sign * float(text), value, where)
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise _fail(where, f"invalid duration {str(value)!r} (use forms like 10s, 1m30s, 500ms)")
    return _bounded_duration(sign * total, value, where)


MAX_DURATION = (2**63 - 1) / 1e9  # Go's time.Duration: int64 nanoseconds, about 292 years


def _bounded_duration(seconds: float, value: Any, where: str) -> float:
    if not abs(seconds) <= MAX_DURATION:  # (also NaN)
        raise _fail(where, f"invalid duration {str(value)!r}: out of range (at most about 292 years)")
    return seconds


def format_duration(seconds: float) -> str:
    """A duration as Go prints it: 1m30s, 1h0m0s, 1.5s, 500ms, 0s."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    h, rest = divmod(ns, 3600 * 10**9)
    m, rest = divmod(rest, 60 * 10**9)
    s = _trim(rest / 1e9) + "s"
    if h:
        return f"{sign}{h}h{m}m{s}"
    if m:
        return f"{sign}{m}m{s}"
    return sign + s


def _trim(x: float) -> str:
    text = f"{x:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def duration_string(value: Any, where: str = "") -> str:
    """A duration in the form `config` prints (Go's)."""
    return format_duration(parse_duration(value, where))


# -- byte sizes --------------------------------------------------------------------

_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s?([kmgtpe]?)(i?)(b?)\s*$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def parse_bytes(value: Any, where: str = "") -> int:
    """Bytes from a number or a size such as 512m, 1g, 1.5GiB, 100kb (binary units); -1 stays -1."""
    if isinstance(value, bool):
        raise _fail(where, f"invalid size {value!r} (use forms like 512m, 1g, 100kb)")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip()
    if text == "-1":
        return -1
    m = _BYTES.match(text)
    if not m:
        raise _fail(where, f"invalid size {text!r} (use forms like 512m, 1g, 100kb)")
    return int(float(m.group(1)) * 1024 ** _POWERS[m.group(2).lower()])


# -- booleans, numbers, commands -----------------------------------------------------

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0", ""}


def as_bool(value: Any, where: str = "") -> bool:
    """A boolean from YAML or from an interpolated string ("true", "no", "1"...)."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _fail(where, f"{value!r} is not a boolean (use true or false)")


def as_int(value: Any, where: str = "") -> int:
    if isinstance(value, bool):
        raise _fail(where, f"{value!r} is not a whole number")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise _fail(where, f"{value!r} is not a whole number") from None


def as_number(value: Any, where: str = "") -> int | float:
    if isinstance(value, bool):
        raise _fail(where, f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        return value
    try:
        f = float(str(value).strip())
    except ValueError:
        raise _fail(where, f"{value!r} is not a number") from None
    return int(f) if f.is_integer() and "." not in str(value) else f


def split_command(value: Any, where: str = "") -> list[str] | None:
    """A command as a list of arguments: a string is split into words as Docker Compose splits it."""
    if value is None:
        return None
    if isinstance(value, list):
        return [scalar(v) for v in value]
    words = shell_words(str(value))
    if words is None:
        raise _fail(where, f"cannot split command {value!r}: invalid command line string")
    return words


_OPERATORS = frozenset(";&|<>")


def shell_words(line: str) -> list[str] | None:
    """*line* split into words the way Docker Compose splits a command string (None where it refuses
    it). Unlike a POSIX shell split, `...` and $(...) stay inside their word with their spaces and
    quotes kept as written (double quotes in backticks are still taken out), a backslash takes the
    next character as it is (outside single quotes), a bare or nested ( or ) is refused, and the
    words end at the first ; & | < or > outside quotes (with a word like 2 before > dropped)."""
    words: list[str] = []
    word: list[str] = []
    have = False  # a word has begun (possibly empty, as in '')
    single = double = backtick = subst = escaped = False
    for ch in line:
        if escaped:
            word.append(ch)
            escaped, have = False, True
            continue
        if ch == "\\":
            if single:
                word.append(ch)
            else:
                escaped = True
            continue
        if ch in " \t\r\n":
            if single or double or backtick or subst:
                word.append(ch)
            elif have:
                words.append("".join(word))
                word, have = [], False
            continue
        if ch == "`" and not (single or double or subst):
            backtick = not backtick
        elif ch == "(" and not (single or double or backtick):
            if subst or not word or word[-1] != "$":
                return None
            subst = True
        elif ch == ")" and not (single or double or backtick):
            if not subst:
                return None
            subst = False
        elif ch == '"' and not (single or subst):
            have = have or double
            double = not double
            continue
        elif ch == "'" and not (double or subst):
            have = have or single
            single = not single
            continue
        elif ch in _OPERATORS and not (single or double or backtick or subst):
            if ch == ">" and word and word[0] in "0123456789":
                have = False
            break
        word.append(ch)
        have = True
    else:
        if escaped or single or double or backtick or subst:
            return None
    if have:
        words.append("".join(word))
    return words


def scalar(v: Any) -> str:
    """A YAML scalar as the string Docker Compose makes of it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return str(v)


_scalar = scalar  # older name


def key_value_map(value: Any, env: Mapping[str, str] | None = None, resolve: bool = False) -> dict[str, str | None]:
    """List ``["K=V", "K"]`` or mapping to a mapping of strings; a key without a value is None,
    or with *resolve* the environment's value when it has one."""
    out: dict[str, str | None] = {}
    if value is None:
        return out
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = []
        for entry in value:
            entry = scalar(entry)
            k, sep, v = entry.partition("=")
            items.append((k, v if sep else None))
    else:
        items = [(scalar(value), None)]
    for k, v in items:
        k = str(k)
        if v is None:
            out[k] = env.get(k) if (resolve and env is not None) else None
            continue
        out[k] = v if isinstance(v, str) else scalar(v)
    return out


def string_list(value: Any) -> list[str]:
    """A string or a list as a list of strings."""
    if value is None:
        return []
    if isinstance(value, list):
        return [scalar(v) for v in value]
    return [scalar(value)]


# -- ports ---------------------------------------------------------------------------

def _split_port_spec(spec: str) -> tuple[str, str, str]:
    """``[IP:][HOST:]CONTAINER`` -> (ip, host, container); IPv6 addresses may go in brackets."""
    if spec.startswith("["):
        end = spec.find("]")
        if end < 0:
            raise ValueError("unclosed '[' in host IP")
        ip = spec[1:end]
        rest = spec[end + 1:]
        if not rest.startswith(":"):
            raise ValueError("expected ':' after the host IP")
        host, _, container = rest[1:].rpartition(":")
        return ip, host, container
    parts = spec.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    # an unbracketed IPv6 host IP: the last two fields are host and container
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def _port_range(text: str) -> tuple[int, int]:
    a, sep, b = text.partition("-")
    if not a.strip().isdigit() or (sep and not b.strip().isdigit()):
        raise ValueError(f"{text!r} is not a port or range")
    lo, hi = int(a), int(b) if sep else int(a)
    if hi < lo:
        raise ValueError(f"invalid range {text}")
    if hi > 65535:
        raise ValueError(f"{hi} is out of range")
    return lo, hi


def parse_ports(entry: Any, where: str = "") -> list[dict]:
    """One entry of `ports` in long form (a short range gives one entry per container port)."""
    if isinstance(entry, dict):
        if "target" not in entry:
            raise _fail(where, "a port in long syntax needs a target")
        item: dict[str, Any] = {}
        if entry.get("name") is not None:
            item["name"] = str(entry["name"])
        item["mode"] = str(entry.get("mode") or "ingress")
        if entry.get("host_ip"):
            item["host_ip"] = str(entry["host_ip"])
        target = as_int(entry["target"], where)
        if not 0 <= target <= 65535:
            raise _fail(where, f"port {target} is out of range")
        item["target"] = target
        if entry.get("published") not in (None, ""):
            published = scalar(entry["published"]).strip()
            try:
                _port_range(published)
            except ValueError as e:
                raise _fail(where, f"published: {e}") from None
            item["published"] = published
        item["protocol"] = str(entry.get("protocol") or "tcp")
        if entry.get("app_protocol"):
            item["app_protocol"] = str(entry["app_protocol"])
        return [item]
    if isinstance(entry, bool) or not isinstance(entry, (int, float, str)):
        raise _fail(where, f"invalid port {entry!r}")
    spec = scalar(entry).strip()
    proto = "tcp"
    if "/" in spec:
        spec, proto = spec.rsplit("/", 1)
    try:
        ip, host, container = _split_port_spec(spec)
        t_lo, t_hi = _port_range(container)
        h_lo, h_hi = _port_range(host) if host else (0, -1)
    except ValueError as e:
        raise _fail(where, f"invalid port {scalar(entry)!r}: {e}") from None
    if proto not in ("tcp", "udp", "sctp"):
        raise _fail(where, f"invalid port {scalar(entry)!r}: unknown protocol {proto!r}")
    n_targets, n_hosts = t_hi - t_lo + 1, h_hi - h_lo + 1
    if host and n_targets > 1 and n_hosts != n_targets:
        raise _fail(where, f"invalid port {scalar(entry)!r}: host and container ranges differ in size")
    out = []
    for i, target in enumerate(range(t_lo, t_hi + 1)):
        item = {"mode": "ingress"}
        if ip:
            item["host_ip"] = ip
        item["target"] = target
        if host:
            item["published"] = str(h_lo + i) if n_targets > 1 else (
                str(h_lo) if n_hosts == 1 else f"{h_lo}-{h_hi}")
        item["protocol"] = proto
        out.append(item)
    return out


def normalize_ports(value: list, where) -> list[dict]:
    """All entries of `ports` in long form; *where(i)* locates entry i for errors."""
    out: list[dict] = []
    for i, entry in enumerate(value or []):
        out.extend(parse_ports(entry, where(i)))
    return out


# -- volumes -------------------------------------------------------------------------

_PROPAGATION = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}


def is_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source == "."


def abs_path(source: str, base_dir: str) -> str:
    """A path from the stack file made absolute: `~` is the home directory, relative is from *base_dir*."""
    if source.startswith("~"):
        source = os.path.expanduser(source)
    return os.path.normpath(os.path.join(base_dir, source))


def _split_volume(spec: str) -> list[str]:
    # Windows drive letters aside, a volume spec is colon separated
    return spec.split(":")


def parse_volume(spec: str, where: str = "") -> dict:
    """A short volume spec ``[SOURCE:]TARGET[:MODE]`` in long form (paths not yet resolved)."""
    if len(spec) > 1 and (spec.startswith(":") or spec.endswith(":")):
        # as Docker Compose: `${UNSET}:/data` must not quietly become an anonymous volume
        raise _fail(where, f"invalid spec: {spec}: empty section between colons")
    parts = _split_volume(spec)
    mode = ""
    if len(parts) == 1:
        source, target = "", parts[0]
    elif len(parts) == 2:
        source, target = parts
    elif len(parts) == 3:
        source, target, mode = parts
    else:
        raise _fail(where, f"invalid volume {spec!r}: expected [SOURCE:]TARGET[:MODE]")
    if not target:
        raise _fail(where, f"invalid volume {spec!r}: no container path")
    item: dict[str, Any]
    if not source:
        item = {"type": "volume", "target": target}
    elif is_path(source):
        item = {"type": "bind", "source": source, "target": target}
    else:
        item = {"type": "volume", "source": source, "target": target}
    bind: dict[str, Any] = {}
    volume: dict[str, Any] = {}
    for opt in filter(None, mode.split(",")):
        if opt == "ro":
            item["read_only"] = True
        elif opt == "rw":
            pass
        elif opt in ("z", "Z"):
            bind["selinux"] = opt
        elif opt in _PROPAGATION:
            bind["propagation"] = opt
        elif opt == "nocopy":
            volume["nocopy"] = True
        elif opt in ("consistent", "cached", "delegated"):
            pass  # macOS-only hints; Docker Compose drops them from the short syntax too
        else:
            raise _fail(where, f"invalid volume {spec!r}: unknown mode {opt!r}")
    if item["type"] == "bind":
        bind["create_host_path"] = True
        item["bind"] = bind
        if volume:
            item["volume"] = volume
    else:
        if bind:
            item["bind"] = bind
        if source or len(spec) > 2 or volume:
            # Docker Compose prints no `volume: {}` for a one-letter anonymous target ("/a"); same here
            item["volume"] = volume
    return item


# -- key/value lists -------------------------------------------------------------------

def extra_hosts(value: Any, where: str = "") -> list[str]:
    """`extra_hosts` as Docker Compose prints it: the HOST=IP strings sorted as strings (so
    mid=10.0.0.0 comes before mid=::1), an IPv6 address without its brackets."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for host, ips in value.items():
            for ip in (ips if isinstance(ips, list) else [ips]):
                pairs.append((str(host), scalar(ip)))
    else:
        for entry in string_list(value):
            if "=" in entry:
                host, _, ip = entry.partition("=")
            else:
                host, sep, ip = entry.partition(":")
                if not sep:
                    raise _fail(where, f"invalid extra host {entry!r}: use HOST:IP or HOST=IP")
            pairs.append((host, ip))
    return sorted(f"{host}={ip[1:-1] if ip.startswith('[') and ip.endswith(']') else ip}" for host, ip in pairs)


def normalize_depends_on(value: Any) -> dict[str, dict]:
    """`depends_on` as a mapping of service -> {condition, [restart], required}."""
    if not value:
        return {}
    if isinstance(value, list):
        return {scalar(n): {"condition": "service_started", "required": True} for n in value}
    out = {}
    for name, opts in value.items():
        opts = opts or {}
        item: dict[str, Any] = {"condition": str(opts.get("condition") or "service_started")}
        if "restart" in opts:
            item["restart"] = as_bool(opts["restart"])
        item["required"] = as_bool(opts.get("required", True))
        out[str(name)] = item
    return out


def normalize_service_networks(value: Any) -> dict[str, dict | None]:
    if value is None:
        return {"default": None}
    if isinstance(value, list):
        return {scalar(n): None for n in value}
    return {str(k): (dict(v) if v else None) for k, v in value.items()}
