"""Saving and loading model weights as ``.npz`` files.

A weights file is an ordinary NumPy ``.npz`` archive (open it with
``np.load``) holding

* one array per entry of ``model.state_dict()`` (parameters and buffers such as
  BatchNorm's running statistics), under the key ``"state/<dotted name>"``;
* ``"__npvision__"``: a JSON string with the format version, the architecture
  name, the model's class, the parameter names in order, the npvision version
  and the caller's ``extra`` metadata (class names, input size, epoch, ...).

Saving is atomic: the archive is written to a temporary file in the target's
folder, flushed to disk, then renamed over the target with ``os.replace``. An
interrupted save leaves either the old file or the new one, never half of one.

Loading checks everything before any weight changes, and says what is wrong in
terms of the file and the parameter: a truncated or corrupt file, a file that
is not an npvision weights file, a newer format version, another architecture,
a missing or unexpected parameter, or an array of the wrong shape.

    save_weights(model, "lenet.npz", architecture="lenet5", extra={"classes": names})
    info = load_weights(model, "lenet.npz", architecture="lenet5")
    info["extra"]["classes"]

Weights from the PyTorch ecosystem (torchvision's state dicts, as ``.npz`` or
``.pth``) load with :func:`load_torch_weights` / :func:`from_torch_state_dict`
and export with :func:`to_torch_state_dict`; they live in
:mod:`npvision.io_torch`, imported on first use.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from . import __version__
from .nn.module import Module

__all__ = ["save_weights", "load_weights", "read_weights", "WeightsFileError", "FORMAT_VERSION",
           "from_torch_state_dict", "to_torch_state_dict", "load_torch_weights"]
_TORCH_NAMES = {"from_torch_state_dict", "to_torch_state_dict", "load_torch_weights",
                "expected_torch_shapes", "IMAGENET_MEAN", "IMAGENET_STD", "NPZ_SNIPPET"}

FORMAT_VERSION = 1
_META_KEY = "__npvision__"
_PREFIX = "state/"


class WeightsFileError(ValueError):
    """A weights file cannot be loaded into this model (the message says why)."""


def _npz_path(path) -> str:
    """``path`` as a string ending in ``.npz`` (appended if missing, as ``np.savez`` does)."""
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"path: expected a file path (str or os.PathLike), "
                        f"received {type(path).__name__}") from None
    return path if path.endswith(".npz") else path + ".npz"


def _check_model(model) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"model: expected an npvision.nn.Module, received {type(model).__name__}")


def _check_architecture(architecture) -> None:
    if architecture is not None and not isinstance(architecture, str):
        raise TypeError(f"architecture: expected a name (str) or None, received {architecture!r}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_weights(model, path, architecture: str | None = None, extra: dict | None = None) -> str:
    """Write ``model.state_dict()`` to ``path`` (``.npz`` appended if missing), atomically.

    ``architecture``: a name such as ``"resnet18"`` recorded in the file and
    checked by :func:`load_weights`. ``extra``: a JSON-serializable dict kept
    with the weights and returned by ``load_weights``. The folder is created
    if needed. Returns the path written.
    """
    _check_model(model)
    _check_architecture(architecture)
    if extra is None:
        extra = {}
    if not isinstance(extra, dict):
        raise TypeError(f"extra: expected a dict of JSON-serializable values, received "
                        f"{type(extra).__name__}")
    state = model.state_dict()
    meta = {"format_version": FORMAT_VERSION, "architecture": architecture,
            "model_class": type(model).__name__, "names": list(state),
            "npvision_version": __version__, "extra": extra}
    try:
        meta_json = json.dumps(meta)
    except TypeError as exc:
        raise TypeError(f"extra: must be JSON-serializable (str, numbers, lists, dicts); {exc}") from None
    arrays = {_PREFIX + name: np.asarray(value) for name, value in state.items()}
    arrays[_META_KEY] = np.array(meta_json)                 # a 0-d unicode array, no pickle

    path = _npz_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())                    # mkstemp made it private (0600)
        os.replace(tmp, path)                                # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def read_weights(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a weights file without a model: ``(state, meta)``, every array fully read and checked.

    Raises ``FileNotFoundError`` if it does not exist and
    :class:`WeightsFileError` if it is truncated, corrupt, not an npvision
    weights file, or of an unknown format version.
    """
    path = _npz_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such weights file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if _META_KEY not in keys:
                raise WeightsFileError(f"{path}: is a .npz archive but not an npvision weights file "
                                       f"(no {_META_KEY!r} entry); it holds {keys[:8]}")
            meta_json = str(archive[_META_KEY])
            # reading every member here verifies its CRC: corruption shows now, not later
            state = {k[len(_PREFIX):]: archive[k] for k in keys if k.startswith(_PREFIX)}
    except WeightsFileError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise WeightsFileError(f"{path}: cannot be read as a weights file; it is truncated or "
                               f"corrupt ({type(exc).__name__}: {exc})") from exc
    try:
        meta = json.loads(meta_json)
        version = meta["format_version"]
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsFileError(f"{path}: its metadata is unreadable ({exc})") from exc
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise WeightsFileError(f"{path}: has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise WeightsFileError(f"{path}: was written in weights format version {version}; this "
                               f"npvision reads versions up to {FORMAT_VERSION}; upgrade npvision")
    return state, meta


def load_weights(model, path, architecture: str | None = None, strict: bool = True) -> dict:
    """Load the weights in ``path`` into ``model`` (in place); returns the file's metadata.

    If ``architecture`` is given, the file must have been saved with that
    architecture name. With ``strict`` (the default) the file and the model must
    have exactly the same parameter names; with ``strict=False`` only the names
    present in both are loaded (e.g. a backbone into a bigger model). Shapes must
    always match. Nothing is modified unless every check passes. The returned
    dict has ``"architecture"``, ``"model_class"``, ``"format_version"``,
    ``"extra"`` and the ``"loaded"`` names.
    """
    _check_model(model)
    _check_architecture(architecture)
    path = _npz_path(path)
    state, meta = read_weights(path)
    saved_arch = meta.get("architecture")
    if architecture is not None and saved_arch != architecture:
        raise WeightsFileError(f"{path}: holds weights of architecture {saved_arch!r} "
                               f"(a {meta.get('model_class')}), not {architecture!r}")

    expected = model.state_dict()
    origin = f"saved from a {meta.get('model_class')}" + (f" ({saved_arch!r})" if saved_arch else "")
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if strict and missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise WeightsFileError(f"{path}: parameter {missing[0]!r}{more} of this "
                               f"{type(model).__name__} is missing from the file ({origin}); "
                               f"missing: {missing[:10]}")
    if strict and unexpected:
        more = f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else ""
        raise WeightsFileError(f"{path}: the file ({origin}) has parameter {unexpected[0]!r}{more} "
                               f"that this {type(model).__name__} does not; unexpected: "
                               f"{unexpected[:10]}")
    common = [k for k in expected if k in state]
    for name in common:
        if state[name].shape != expected[name].shape:
            raise WeightsFileError(f"{path}: parameter {name!r} has shape {state[name].shape} in the "
                                   f"file but the model expects {expected[name].shape}")
        if state[name].dtype.kind not in "fiub":
            raise WeightsFileError(f"{path}: parameter {name!r} has non-numeric dtype "
                                   f"{state[name].dtype}")
    model.load_state_dict({k: state[k] for k in common}, strict=strict)
    return {"architecture": saved_arch, "model_class": meta.get("model_class"),
            "format_version": meta["format_version"], "extra": meta.get("extra", {}),
            "loaded": common}


def __getattr__(name: str):
    """The PyTorch interchange (``from npvision.io import load_torch_weights``) loads on first use."""
    if name in _TORCH_NAMES:
        from . import io_torch
        return getattr(io_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
