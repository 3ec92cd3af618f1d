"""Reading YAML stack files with the line of every node, for errors that point at file:line.

Scalars are resolved the way Docker Compose's YAML 1.2 reader does, not PyYAML's YAML 1.1:
only ``true``/``false`` are booleans (``yes``, ``on``, ``no`` stay strings), ``22:22`` is a
string rather than a base-60 number, dates stay strings, and ``0o17``, ``017`` and ``0x1f``
are integers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from composer.errors import StackFileError
from composer.load.recorder import NOT_RECORDING, Recorder, read_input

Path = tuple  # a path into the document: ("services", "web", "ports", 0)


@dataclass
class Source:
    """One parsed stack file: its data and where each node of it came from."""

    filename: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    text: str = ""
    documents: list = field(default_factory=list)  # every YAML document of the file (data is the first)

    def where(self, path: Path) -> str:
        """``file:line`` for the deepest known ancestor of *path*."""
        p = tuple(path)
        while p:
            line = self.lines.get(p)
            if line is not None:
                return f"{self.filename}:{line}"
            p = p[:-1]
        return self.filename


@dataclass
class Tagged:
    """A value carrying a compose-spec merge tag (`!reset` or `!override`)."""

    tag: str
    value: Any


_RESOLVERS = [
    ("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")),
    ("tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
     list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
                r"|\.(?:nan|NaN|NAN))$"), list("-+0123456789.")),
    ("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"]),
]

_LOADER = None
_STR, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"


def _loader_class():
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        """Safe YAML 1.2-style scalars, with compose-spec's `!reset` and `!override` tags kept as markers."""

        yaml_implicit_resolvers: dict = {}

    for tag, regexp, first in _RESOLVERS:
        Loader.add_implicit_resolver(tag, regexp, first)

    def construct_int(loader, node):
        text = loader.construct_scalar(node).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        if text.startswith("0o"):
            return sign * int(text[2:], 8)
        if text.startswith("0x"):
            return sign * int(text[2:], 16)
        if len(text) > 1 and text.startswith("0") and text.isdigit() and "8" not in text and "9" not in text:
            return sign * int(text, 8)  # 0440: octal, as Docker Compose reads it
        return sign * int(text)

    def construct_float(loader, node):
        text = loader.construct_scalar(node).lower()
        if text.endswith("inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text.endswith("nan"):
            return float("nan")
        return float(text)

    def plain_key(loader, key_node):
        # keys that YAML reads as numbers or booleans become strings (the spec only has string keys);
        # unhashable keys are refused with a clear error instead of a TypeError
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool):
            return "true" if key else "false"
        if key is None:
            return "null" if key_node.value else ""
        if not isinstance(key, str):
            if isinstance(key, (list, dict, Tagged)):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark)
            return key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key)
        return key

    def refuse_duplicates(loader, node):
        # as Docker Compose: a key given twice in one mapping is an error, not "the last one wins";
        # keys a `<<` merge brings in may be overridden (that is what merging is for)
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            tag = key_node.tag
            key = key_node.value if tag == _STR else "<<" if tag == _MERGE else plain_key(loader, key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f'mapping key "{key}" already defined at line {seen[key]}', key_node.start_mark)
            seen[key] = line

    def construct_mapping(loader, node):
        refuse_duplicates(loader, node)
        loader.flatten_mapping(node)
        out = {}
        for key_node, value_node in node.value:
            out[plain_key(loader, key_node)] = loader.construct_object(value_node, deep=True)
        return out

    def _tagged(tag):
        def construct(loader, node):
            if isinstance(node, yaml.MappingNode):
                value = construct_mapping(loader, node)
            elif isinstance(node, yaml.SequenceNode):
                value = loader.construct_sequence(node, deep=True)
            else:
                value = loader.construct_scalar(node)
                if value in ("", "null", "~"):
                    value = None
            return Tagged(tag, value)

        return construct

    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    Loader.add_constructor("tag:yaml.org,2002:float", construct_float)
    Loader.add_constructor("tag:yaml.org,2002:map", construct_mapping)
    Loader.add_constructor("!reset", _tagged("reset"))
    Loader.add_constructor("!override", _tagged("override"))
    _LOADER = Loader
    return Loader


MAX_VALUES = 1_000_000  # YAML aliases can make a small file a huge tree ("billion laughs")


def expanded_size(data: Any) -> int:
    """How many values *data* has once aliases are expanded (shared nodes counted each time)."""
    memo: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, (dict, list, Tagged)):
            return 1
        key = id(node)
        if key in memo:
            return memo[key]
        if key in busy:
            raise ValueError("an alias refers to a node that contains it")
        busy.add(key)
        if isinstance(node, dict):
            total = 1 + sum(size(v) for v in node.values())
        elif isinstance(node, list):
            total = 1 + sum(size(v) for v in node)
        else:
            total = 1 + size(node.value)
        memo[key] = total
        busy.discard(key)
        return total

    return size(data)


def _record_lines(node, path: Path, lines: dict, depth: int = 0) -> None:
    import yaml

    if depth > 200 or len(lines) > 100_000:
        return
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value == "<<":
                    # merged keys: their lines are the anchor's, recorded unless the mapping sets them
                    for merged in (value.value if isinstance(value, yaml.SequenceNode) else [value]):
                        if isinstance(merged, yaml.MappingNode):
                            for k2, v2 in merged.value:
                                if isinstance(k2, yaml.ScalarNode) and path + (k2.value,) not in lines:
                                    _record_lines(v2, path + (k2.value,), lines, depth + 1)
                    continue
                lines[path + (key.value,)] = key.start_mark.line + 1
                _record_lines(value, path + (key.value,), lines, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, path + (i,), lines, depth + 1)


def parse(text: str, filename: str) -> Source:
    """Parse YAML text; a syntax error becomes a StackFileError naming file:line. A file of several
    documents (``---``) gives them all in ``documents``, to be merged in order as Docker Compose does."""
    import yaml

    loader = _loader_class()(text)
    nodes, docs = [], []
    try:
        while loader.check_node():
            node = loader.get_node()
            nodes.append(node)
            docs.append(loader.construct_document(node))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{filename}:{mark.line + 1}" if mark else filename
        problem = (e.problem or e.context or "invalid YAML").strip()
        raise StackFileError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise StackFileError(f"{filename}: invalid YAML: {str(e).splitlines()[0] if str(e) else e}") from None
    except RecursionError:
        raise StackFileError(f"{filename}: invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
    try:
        too_big = sum(expanded_size(d) for d in docs) > MAX_VALUES
    except RecursionError:
        raise StackFileError(f"{filename}: invalid YAML: nested too deeply") from None
    except ValueError as e:
        raise StackFileError(f"{filename}: invalid YAML: {e}") from None
    if too_big:
        raise StackFileError(f"{filename}: the file expands to more than {MAX_VALUES} values "
                             "(aliases of aliases?); refusing to load it")
    lines: dict[Path, int] = {}
    for node in nodes:
        _record_lines(node, (), lines)
    documents = []
    for node, data in zip(nodes, docs):
        if data is None:
            continue
        if not isinstance(data, dict):
            raise StackFileError(f"{filename}:{node.start_mark.line + 1}: the top level of a stack file must be a mapping")
        documents.append(data)
    # a file of only comments adds nothing (the loader refuses only an empty merged result)
    src = Source(filename, documents[0] if documents else {}, lines, text)
    src.documents = documents
    return src


def read(filename: str, recorder: Recorder = NOT_RECORDING) -> Source:
    text = read_input(filename, "stack file", recorder)
    recorder.read_text(text)
    return parse(text, filename)
