"""Verification and recognition against a database of stored encodings.

The lecture's office door: encode every member of staff *once*, keep the vectors,
and compare each new face with them; no retraining when someone joins.

* **Verification** (1:1, "is this the person on the ID card?"): :func:`verify`
  compares the new face's encoding with the claimed identity's and accepts when
  the plain L2 distance is below the threshold.
* **Recognition** (1:K, "who is this?"): :func:`who_is_it` finds the nearest
  identity of the database, and answers ``None`` ("not in the database") when even
  the nearest is not below the threshold.

Both are the course's functions (threshold 0.7, plain not squared distance, the
database a mapping from a name to an encoding), with two choices made explicit:
a match is ``dist < threshold`` in both (the course's ``who_is_it`` accepted a
distance equal to 0.7 that its ``verify`` refused), and an identity may hold
several encodings (``(K, d)``, e.g. several photos): its distance is the smallest.

:class:`EncodingDatabase` is such a mapping that remembers which model made its
encodings (a fingerprint of the weights) and their width, saves to an ``.npz``
file and refuses to load into another model: encodings from other weights are
meaningless to compare.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

import numpy as np

from .. import nn
from .._checks import as_float_array
from .encoder import embed

__all__ = ["verify", "who_is_it", "EncodingDatabase", "model_fingerprint", "DatabaseFileError"]


class DatabaseFileError(ValueError):
    """An encodings file cannot be used with this model (the message says why)."""


def model_fingerprint(model: nn.Module) -> str:
    """A short hash of a model's weights and buffers (float32 bytes, by name): equal
    fingerprints mean the same encodings for the same image."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an npvision.nn.Module, received {type(model).__name__}")
    h = hashlib.sha256()
    for name, value in model.state_dict().items():
        h.update(name.encode())
        h.update(np.ascontiguousarray(value, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def _encodings(value, name: str) -> np.ndarray:
    """A database entry as ``(K, d)``: ``(d,)`` and ``(1, d)`` (the course's) both accepted."""
    v = as_float_array(value, f"database[{name!r}]", ndim=(1, 2), layout="(d,) or (K, d)")
    v = v.reshape(-1, v.shape[-1]) if v.ndim == 2 else v[None]     # (K, d)
    if len(v) == 0:
        raise ValueError(f"database[{name!r}]: holds no encoding")
    return v


def _encode(image, model, name: str = "image") -> np.ndarray:
    """One image (array ``(H, W, C)``, a batch of one, or a path) -> its ``(d,)`` encoding."""
    if isinstance(image, (str, os.PathLike)):
        from ..data import read_image
        channels = getattr(model, "config", {}).get("in_channels", 3)
        image = read_image(image, channels=channels)
    image = as_float_array(image, name, ndim=(3, 4), layout="(H, W, C) or (1, H, W, C)")
    if image.ndim == 4 and len(image) != 1:
        raise ValueError(f"{name}: expected one image, received a batch of {len(image)}")
    if callable(getattr(model, "encode", None)):
        return np.asarray(model.encode(image)).reshape(-1)
    return embed(model, image)[0]


def _distance(encoding: np.ndarray, stored: np.ndarray, name: str) -> float:
    if stored.shape[-1] != encoding.shape[-1]:
        raise ValueError(f"database[{name!r}]: encodings of width {stored.shape[-1]} cannot be compared "
                         f"with the image's encoding of width {encoding.shape[-1]}; the database was "
                         f"made by another model")
    return float(np.min(np.linalg.norm(stored - encoding[None], axis=1)))


def _threshold(threshold) -> float:
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not threshold > 0:
        raise ValueError(f"threshold: expected a distance > 0, received {threshold!r}")
    return float(threshold)


def verify(image, identity, database: Mapping, model, threshold: float = 0.7) -> tuple[float, bool]:
    """Is ``image`` the person ``identity``? The course's ``verify``.

    Parameters
    ----------
    image : ``(H, W, C)`` float array in [0, 1] (or a path to an image file).
    identity : a key of ``database``.
    database : mapping name -> encoding ``(d,)``, ``(1, d)`` or ``(K, d)``.
    model : the encoder (an npvision Module; its output is the encoding).
    threshold : accept when the plain L2 distance is below it (0.7, the course's).

    Returns ``(dist, match)``: the distance (the smallest over the identity's
    encodings) and ``dist < threshold``.
    """
    threshold = _threshold(threshold)
    if not isinstance(database, Mapping):
        raise TypeError(f"database: expected a mapping name -> encoding, received {type(database).__name__}")
    if identity not in database:
        known = ", ".join(map(repr, list(database)[:10])) or "none"
        raise KeyError(f"identity: {identity!r} is not in the database (it holds {known})")
    encoding = _encode(image, model)
    dist = _distance(encoding, _encodings(database[identity], identity), identity)
    return dist, bool(dist < threshold)


def who_is_it(image, database: Mapping, model, threshold: float = 0.7):
    """Who is on ``image``? The course's ``who_is_it``.

    Returns ``(min_dist, identity)``: the distance to the nearest identity of the
    database and its name, or ``None`` when ``min_dist >= threshold`` (an unknown face).
    """
    threshold = _threshold(threshold)
    if not isinstance(database, Mapping):
        raise TypeError(f"database: expected a mapping name -> encoding, received {type(database).__name__}")
    if len(database) == 0:
        raise ValueError("database: is empty; add at least one person's encoding before recognizing faces")
    encoding = _encode(image, model)
    min_dist, identity = np.inf, None
    for name, stored in database.items():
        dist = _distance(encoding, _encodings(stored, name), name)
        if dist < min_dist:
            min_dist, identity = dist, name
    return float(min_dist), (identity if min_dist < threshold else None)


class EncodingDatabase(Mapping):
    """Stored encodings by name, tied to the model that made them.

    ``db[name]`` is a ``(K, d)`` float32 array (one row per stored photo). Use it
    as the ``database`` of :func:`verify` and :func:`who_is_it`.

    >>> db = EncodingDatabase.from_images({"ana": ana_photos, "bo": bo_photos}, encoder)
    >>> db.save("staff.npz")
    >>> db = EncodingDatabase.load("staff.npz", encoder)      # refuses another model's file
    """

    def __init__(self, model_id: str, embedding_dim: int, entries: dict | None = None):
        self.model_id = str(model_id)
        self.embedding_dim = int(embedding_dim)
        self._entries: dict[str, np.ndarray] = {}
        for name, value in (entries or {}).items():
            self.add(name, value)

    # -- the mapping -----------------------------------------------------------------
    def __getitem__(self, name):
        return self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (f"EncodingDatabase({len(self)} identities, d={self.embedding_dim}, "
                f"model {self.model_id})")

    def add(self, name: str, encodings) -> None:
        """Store ``encodings`` ``(d,)`` or ``(K, d)`` for ``name`` (added to any already there)."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"name: expected a non-empty string, received {name!r}")
        v = _encodings(encodings, name).astype(np.float32)
        if v.shape[1] != self.embedding_dim:
            raise ValueError(f"encodings: have width {v.shape[1]}, this database stores width "
                             f"{self.embedding_dim}")
        old = self._entries.get(name)
        self._entries[name] = v if old is None else np.concatenate([old, v])

    @classmethod
    def from_images(cls, images_by_name: Mapping, model: nn.Module) -> "EncodingDatabase":
        """Encode ``{name: images (K, H, W, C) or (H, W, C)}`` with ``model``."""
        db = None
        for name, images in images_by_name.items():
            e = embed(model, images)
            if db is None:
                db = cls(model_fingerprint(model), e.shape[1])
            db.add(name, e)
        if db is None:
            raise ValueError("images_by_name: is empty; give at least one person's images")
        return db

    @classmethod
    def from_folder(cls, folder, model: nn.Module, size) -> "EncodingDatabase":
        """Encode an image folder with one sub-folder per person (the folder's name is the
        person's), every image resized to ``size`` (the model's input size)."""
        from ..data import load_image_folder
        channels = getattr(model, "config", {}).get("in_channels", 3)
        images, labels, names = load_image_folder(folder, size=size, channels=channels)
        return cls.from_images({n: images[labels == i] for i, n in enumerate(names)}, model)

    # -- files -----------------------------------------------------------------------------
    def save(self, path) -> str:
        """Write an ``.npz``: one array per name, plus the model fingerprint and width."""
        if len(self) == 0:
            raise ValueError("database: is empty; there is nothing to save")
        path = os.fspath(path)
        path = path if path.endswith(".npz") else path + ".npz"
        meta = {"model_id": self.model_id, "embedding_dim": self.embedding_dim, "names": list(self)}
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        arrays = {f"enc_{i}": v for i, v in enumerate(self._entries.values())}
        np.savez(path, __face_database__=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path, model: nn.Module | None = None, embedding_dim: int | None = None
             ) -> "EncodingDatabase":
        """Read a file written by :meth:`save`. With ``model`` (or ``embedding_dim``) the file
        must have been made by that model (that width): otherwise :class:`DatabaseFileError`."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such encodings file")
        try:
            with np.load(path, allow_pickle=False) as f:
                if "__face_database__" not in f.files:
                    raise DatabaseFileError(f"{path}: is not an npvision face database (no "
                                            f"'__face_database__' entry); it holds {f.files[:8]}")
                meta = json.loads(str(f["__face_database__"]))
                arrays = [f[f"enc_{i}"] for i in range(len(meta["names"]))]
        except DatabaseFileError:
            raise
        except Exception as exc:
            raise DatabaseFileError(f"{path}: cannot be read as a face database ({exc})") from exc
        if embedding_dim is not None and meta["embedding_dim"] != embedding_dim:
            raise DatabaseFileError(f"{path}: stores encodings of width {meta['embedding_dim']}, "
                                    f"expected {embedding_dim}")
        if model is not None:
            dim = getattr(model, "embedding_dim", None)
            if dim is not None and meta["embedding_dim"] != dim:
                raise DatabaseFileError(f"{path}: stores encodings of width {meta['embedding_dim']} but "
                                        f"this model makes encodings of width {dim}; re-encode the faces")
            mine = model_fingerprint(model)
            if meta["model_id"] != mine:
                raise DatabaseFileError(f"{path}: its encodings were made by another model (weights "
                                        f"{meta['model_id']}, this model's are {mine}); distances "
                                        f"between them mean nothing: re-encode the faces")
        return cls(meta["model_id"], meta["embedding_dim"], dict(zip(meta["names"], arrays)))
