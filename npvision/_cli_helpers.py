"""Helpers shared by the ``npvision`` commands: output paths, run folders, messages, --json.

Private to :mod:`npvision.cli` and the task modules; numpy-free so that
``npvision --help`` stays cheap.

- :class:`UsageError`: a mistake in the command line itself; ``npvision`` prints it and
  exits with status 2, as ``argparse`` does for its own usage errors.
- :func:`output_file` / :func:`output_folder`: where ``--out`` really writes (a folder
  means "inside it"; ``""`` and a file where a folder is needed are usage errors).
- :func:`next_run_folder` / :func:`latest_run_folder`: numbered run folders
  ``npvision-out/lenet5``, ``npvision-out/lenet5-2``, ...
- :func:`json_stdout`: while a ``--json`` command runs, everything it prints goes to
  stderr (progress stays visible); only the final JSON line goes to stdout.
- :func:`did_you_mean`, :func:`plural`: message helpers.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import sys

__all__ = ["UsageError", "output_file", "output_folder", "next_run_folder", "latest_run_folder",
           "json_stdout", "did_you_mean", "plural", "IMAGE_SUFFIXES", "image_files"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class UsageError(ValueError):
    """The command line is wrong (an argument's value); reported with exit status 2."""


def _nonempty(value, arg: str) -> str:
    if value is None or not str(value).strip():
        raise UsageError(f"{arg}: expected a path, received an empty string")
    return os.fspath(value)


def output_file(value, default_name: str, arg: str = "--out") -> str:
    """The file ``--out VALUE`` names: ``VALUE`` itself, or ``VALUE/default_name`` when VALUE is an
    existing folder or ends with a slash. Its folder is created; a file in the way is a usage error."""
    value = _nonempty(value, arg)
    if os.path.isdir(value) or value.endswith(("/", os.sep)):
        value = os.path.join(value, default_name)
    folder = os.path.dirname(os.path.abspath(value))
    _make_folder(folder, arg, shown=os.path.dirname(value) or ".")
    return value


def output_folder(value, arg: str = "--out") -> str:
    """The folder ``--out VALUE`` names, created if needed; an existing file there is a usage error."""
    value = _nonempty(value, arg)
    _make_folder(value, arg, shown=value)
    return value


def _make_folder(folder: str, arg: str, shown: str) -> None:
    # walk up to the first existing ancestor: a file there blocks the folder (Errno 17 / 20)
    probe = os.path.abspath(folder)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise UsageError(f"{arg}: {shown!r} needs to be a folder, but {probe!r} is a file; give a "
                         f"folder path (or remove the file)")
    os.makedirs(folder, exist_ok=True)


_NUMBERED = re.compile(r"-(\d+)$")


def next_run_folder(base: str) -> str:
    """``base`` if it does not exist yet (or is an empty folder), else the first free ``base-2``,
    ``base-3``, ...: a second run never overwrites the first."""
    base = os.path.normpath(base)
    if not os.path.exists(base) or (os.path.isdir(base) and not os.listdir(base)):
        return base
    k = 2
    while os.path.exists(f"{base}-{k}"):
        k += 1
    return f"{base}-{k}"


def latest_run_folder(base: str) -> str:
    """The most recent of ``base``, ``base-2``, ``base-3``, ... that exists (the highest number),
    or ``base`` when none does."""
    base = os.path.normpath(base)
    parent, name = os.path.split(base)
    best, best_k = base, 1 if os.path.isdir(base) else 0
    try:
        entries = os.listdir(parent or ".")
    except OSError:
        return base
    for entry in entries:
        if entry.startswith(name + "-"):
            m = _NUMBERED.search(entry)
            if m and entry == f"{name}-{m.group(1)}" and int(m.group(1)) > best_k \
                    and os.path.isdir(os.path.join(parent, entry)):
                best, best_k = os.path.join(parent, entry), int(m.group(1))
    return best


@contextlib.contextmanager
def json_stdout(enabled: bool):
    """With ``enabled``: inside the block ``print`` goes to stderr; yields a function that
    writes one line to the real stdout (for the JSON). Without: both go to stdout."""
    real = sys.stdout

    def emit(line: str) -> None:
        print(line, file=real, flush=True)

    if not enabled:
        yield emit
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield emit


def did_you_mean(name: str, choices) -> str:
    """``"; did you mean 'lenet5'?"`` for the closest of ``choices``, or ``""``."""
    choices = list(choices)
    prefixed = [c for c in choices if c.startswith(str(name))]   # 'resnet' -> 'resnet-digits'
    close = prefixed[:1] or difflib.get_close_matches(str(name), choices, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 object"``, ``"2 objects"``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def image_files(paths, arg: str = "IMAGE") -> list[str]:
    """Every image named on the command line: files as given, folders expanded to their
    PNG/JPEG files (sorted). A missing path or a folder without images is a usage error."""
    found = []
    for p in paths:
        p = _nonempty(p, arg)
        if os.path.isdir(p):
            inside = sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(os.path.join(p, f)))
            if not inside:
                raise UsageError(f"{arg}: the folder {p!r} holds no {'/'.join(IMAGE_SUFFIXES)} file")
            found.extend(inside)
        elif os.path.isfile(p):
            found.append(p)
        else:
            raise UsageError(f"{arg}: no such image file or folder: {p!r}")
    return found
