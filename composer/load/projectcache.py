"""Remembered loads: a command repeated on an unchanged stack skips reading, validating and resolving it.

A load depends on its options, the working directory, the environment and the files it looks at.
An entry is found by a hash of the options and the working directory, and holds the resulting
project, the warnings the load printed, a signature (type, size, mtime, ctime, inode) of every file
the load looked at or looked for, present or absent, and the environment variables that could have
mattered: those whose name appears anywhere in the text of the files it read (a load can only look
a variable up by a name written there), plus COMPOSE_*, DOCKER_* and HOME, which the loader reads
itself. The entry is used only while each file has the same signature and each of those variables
the same value (or is still unset), compared by a digest (an entry keeps no variable's value); its
warnings are printed again. Other variables (a terminal's,
a benchmark tool's) do not matter.

The loader reports what it touches to the composer.load.recorder.Recorder of its session; the loader
(composer.load.loader.load) asks ``remembered`` first and hands a fresh load with its recorder to
``remember``; this module never calls the loader. Entries are pickles of plain model objects in
$XDG_CACHE_HOME/composer/projects (mode 0700: a project holds resolved environment values).
"""
from __future__ import annotations

import os
import sys

from composer.load.recorder import signature

VERSION = 3  # of the entry format
ALWAYS = ("HOME",)  # read by the loader itself (`~` in paths), besides the prefixes below
PREFIXES = ("COMPOSE_", "DOCKER_")
MAX_ENTRIES = 256
RACY_NS = 50_000_000  # file times are coarse (a clock tick of up to 10 ms)

def relevant_environment(environ, text: str) -> dict[str, str]:
    """The variables of *environ* a load whose files read *text* could have looked at."""
    return {k: v for k, v in environ.items() if k in text or k.startswith(PREFIXES) or k in ALWAYS}


def _fingerprint(env: dict[str, str]) -> str:
    """A digest of *env*: an entry holds no value of a variable (secrets' `environment:` sources)."""
    try:
        from _sha256 import sha256
    except ImportError:
        from hashlib import sha256

    return sha256(repr(sorted(env.items())).encode("utf-8", "surrogatepass")).hexdigest()


def directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "composer", "projects")


def _code_stamp() -> list:
    """Our loader's code, the model and the schema: an upgrade of any makes every entry stale."""
    here = os.path.dirname(os.path.abspath(__file__))  # composer/load
    top = os.path.dirname(here)  # composer: model.py, graph.py, errors.py, labels.py
    out = []
    for base in (here, top, os.path.join(top, "schemas")):
        with os.scandir(base) as it:
            for e in it:
                if e.name.endswith((".py", ".json")):
                    st = e.stat()
                    out.append((e.path, st.st_size, st.st_mtime_ns))
    return sorted(out)


def key(opts, cwd: str) -> str | None:
    """The entry's name for a load with *opts* in *cwd*; None when it cannot be remembered (stdin)."""
    if "-" in opts.files:
        return None
    try:
        from _sha256 import sha256  # hashlib would load OpenSSL (~2 ms) for one digest
    except ImportError:
        from hashlib import sha256

    parts = (VERSION, sys.version, _code_stamp(), cwd, list(opts.files), opts.project_name, opts.project_dir,
             list(opts.env_files), opts.interpolate, opts.profiles, opts.all_profiles, opts.environ is None)
    return sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _environ(opts):
    return os.environ if opts.environ is None else opts.environ


def get(name: str, environ):
    """The remembered project when every file and variable it depends on is unchanged (its warnings
    printed), else None."""
    import pickle

    try:
        with open(os.path.join(directory(), name), "rb") as f:
            entry = pickle.load(f)
    except Exception:  # noqa: BLE001 - missing, unreadable or from an older composer: just load
        return None
    if not isinstance(entry, dict) or entry.get("version") != VERSION:
        return None
    for path, sig in entry["files"].items():
        if signature(path) != sig:
            return None
    if _fingerprint(relevant_environment(environ, entry["text"])) != entry["environment"]:
        return None
    for message in entry["warnings"]:
        print(message, file=sys.stderr)
    return entry["project"]


def put(name: str, files: dict, texts: list[str], environ, warnings: list[str], project) -> None:
    """Remember a load, unless one of its files changed so recently that a change within the same
    clock tick would leave its signature as it is (then the next load reads it again)."""
    import pickle
    import time

    recent = time.time_ns() - RACY_NS
    if any(sig is not None and sig[3] > recent for sig in files.values()):
        return
    d = directory()
    try:
        os.makedirs(d, mode=0o700, exist_ok=True)
        tmp = os.path.join(d, f".{name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        text = "\0".join(texts)
        entry = {"version": VERSION, "files": files, "text": text,
                 "environment": _fingerprint(relevant_environment(environ, text)),
                 "warnings": warnings, "project": project}
        with os.fdopen(fd, "wb") as f:
            pickle.dump(entry, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, os.path.join(d, name))
        _trim(d)
    except OSError:
        pass  # a cache that cannot be written is only slower


def _trim(d: str) -> None:
    entries = os.listdir(d)
    if len(entries) <= MAX_ENTRIES:
        return
    paths = [os.path.join(d, e) for e in entries]
    paths.sort(key=lambda p: os.stat(p).st_mtime if os.path.exists(p) else 0)
    for p in paths[: len(paths) // 2]:
        try:
            os.unlink(p)
        except OSError:
            pass


def remembered(opts, cwd: str):
    """The remembered project of a load with *opts* in *cwd*, its warnings printed again; None when
    there is none, or what it depends on changed (then the caller loads, and may ``remember``)."""
    name = key(opts, cwd)
    project = get(name, _environ(opts)) if name else None
    if project is not None and project.environment_names():  # secrets' values are not remembered: read again
        from composer.load.dotenv import project_environment

        project.take_environment(project_environment(opts.env_files, cwd, project.working_dir,
                                                     dict(_environ(opts))))
    return project


def remember(opts, cwd: str, environ: dict, recorder, project) -> None:
    """Remember *project*, loaded with *opts* in *cwd* from *environ* while *recorder* recorded."""
    name = key(opts, cwd)
    if name:
        put(name, recorder.touched, recorder.texts, environ, recorder.warned, project)
