"""Checking a stack file against composer/schemas/compose-spec.json (package data), with errors that name file:line and path.

jsonschema costs ~80 ms to import, so a tree that validated before is not checked again: its hash
(with the schema's) is remembered as an empty file under $XDG_CACHE_HOME/composer/valid/.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Callable

from composer.errors import ComposerError, StackFileError
from composer.load.parsers import dotted

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas", "compose-spec.json")

_validator = None


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "composer", "valid")


def _key(data: Any) -> str | None:
    try:
        st = os.stat(SCHEMA_PATH)
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=True)
    except (OSError, TypeError, ValueError):
        return None
    h = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}\n".encode())
    h.update(blob.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def validate(data: dict, where: Callable[[tuple], str], use_cache: bool = True, interpolated: bool = True) -> None:
    """Raise StackFileError for the first schema violation in *data* (a plain tree). A tree that was
    not *interpolated* (config --no-interpolate) may hold ${VAR} where a pattern or a choice applies."""
    key = _key(data) if use_cache else None
    marker = os.path.join(cache_dir(), key if interpolated else f"raw-{key}") if key else None
    if marker and os.path.exists(marker):
        return
    check(data, where, interpolated)
    if marker:
        try:
            os.makedirs(os.path.dirname(marker), exist_ok=True)
            with open(marker, "w"):
                pass
        except OSError:
            pass  # a read-only home only costs speed


def _get_validator():
    global _validator
    if _validator is None:
        from importlib import resources

        import jsonschema

        try:  # package data: found the same way in a wheel, a plain `pip install .` and an editable install
            schema = json.loads(resources.files("composer").joinpath("schemas/compose-spec.json").read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise ComposerError(f"composer is installed without a readable stack-file schema "
                                f"(composer/schemas/compose-spec.json: {getattr(e, 'strerror', None) or e}): "
                                "reinstall composer") from None
        cls = jsonschema.validators.validator_for(schema)
        _validator = cls(schema)
    return _validator


def check(data: dict, where: Callable[[tuple], str], interpolated: bool = True) -> None:
    errors = sorted((e for e in _get_validator().iter_errors(data) if interpolated or not _variable_only(e)),
                    key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if not errors:
        return
    err = _deepest(errors[0])
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties":
        extra = _extra_keys(err)
        if extra:
            path += (extra[0],)
            raise StackFileError(f"{where(path)}: {dotted(path)}: unknown attribute {extra[0]!r} "
                                 "(a typo, or not part of the compose specification)")
    raise StackFileError(f"{where(path)}: {dotted(path)}: {_describe(err)}")


_STRING_CHECKS = ("pattern", "format", "enum", "const")


def _variable_only(err) -> bool:
    """The error is only that a string check met ${VAR}, which interpolation would have replaced.
    (Interpolation makes strings only, so a type error is one either way.)"""
    if err.validator in ("oneOf", "anyOf"):
        return any(_variable_only(e) for e in err.context)
    return err.validator in _STRING_CHECKS and isinstance(err.instance, str) and "$" in err.instance


def _deepest(err):
    """The most telling error inside oneOf/anyOf: the deepest, preferring one that is not
    a mere type mismatch (the branch whose type matched says what is really wrong)."""
    while err.context:
        err = sorted(err.context, key=lambda e: (-len(e.absolute_path), e.validator == "type"))[0]
    return err


def _extra_keys(err) -> list[str]:
    extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
    return [k for k in extra if not any(re.match(p, k) for p in err.schema.get("patternProperties", {}))]


def _describe(err) -> str:
    if err.validator == "type":
        want = err.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"must be of type {want}, not {_json_type(err.instance)}"
    if err.validator == "enum":
        return f"must be one of {', '.join(map(str, err.validator_value))}"
    if err.validator == "pattern":
        hint = err.schema.get("description")
        return f"{err.instance!r} is not valid" + (f": {hint}" if hint else "")
    if err.validator == "required":
        return err.message.splitlines()[0].replace("is a required property", "is required")
    return err.message.splitlines()[0][:300]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
