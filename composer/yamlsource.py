"""Reading YAML stack files with the line of every node, for errors that point at file:line."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from composer.errors import StackFileError

Path = tuple  # a path into the document: ("services", "web", "ports", 0)


@dataclass
class Source:
    """One parsed stack file: its data and where each node of it came from."""

    filename: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def where(self, path: Path) -> str:
        """``file:line`` for the deepest known ancestor of *path*."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return f"{self.filename}:{self.lines[p]}"
            p = p[:-1]
        return self.filename


def _loader_class():
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe YAML with compose-spec's `!reset` and `!override` tags kept as markers."""

    def _tagged(tag):
        def construct(loader, node):
            if isinstance(node, yaml.MappingNode):
                value = loader.construct_mapping(node, deep=True)
            elif isinstance(node, yaml.SequenceNode):
                value = loader.construct_sequence(node, deep=True)
            else:
                value = loader.construct_scalar(node)
            return Tagged(tag, value)

        return construct

    Loader.add_constructor("!reset", _tagged("reset"))
    Loader.add_constructor("!override", _tagged("override"))
    return Loader


@dataclass
class Tagged:
    """A value carrying a compose-spec merge tag (`!reset` or `!override`)."""

    tag: str
    value: Any


def _record_lines(node, path: Path, lines: dict) -> None:
    import yaml

    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value == "<<":
                    continue
                lines[path + (key.value,)] = key.start_mark.line + 1
                _record_lines(value, path + (key.value,), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, path + (i,), lines)


def parse(text: str, filename: str) -> Source:
    """Parse YAML text; a syntax error becomes a StackFileError naming file:line."""
    import yaml

    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{filename}:{mark.line + 1}" if mark else filename
        problem = (e.problem or e.context or "invalid YAML").strip()
        raise StackFileError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise StackFileError(f"{filename}: invalid YAML: {e}") from None
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    if node is not None:
        _record_lines(node, (), lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StackFileError(f"{filename}:1: the top level of a stack file must be a mapping")
    return Source(filename, data, lines)


def read(filename: str) -> Source:
    try:
        with open(filename, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise StackFileError(f"{filename}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StackFileError(f"{filename}: cannot read: {e}") from None
    return parse(text, filename)
