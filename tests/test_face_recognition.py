"""verify, who_is_it and the encodings database (files tied to their model)."""

import os

import numpy as np
import pytest

from npvision import nn
from npvision.face import (DatabaseFileError, EncodingDatabase, FaceEncoder, embed, model_fingerprint,
                           verify, who_is_it)


class MeanColour(nn.Module):
    """A toy encoder: the image's mean colour, made unit length: (N, H, W, 3) -> (N, 3)."""

    embedding_dim = 3

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(3))

    def forward(self, x):
        m = x.mean(axis=(1, 2)) * self.scale.data
        return m / np.linalg.norm(m, axis=1, keepdims=True)


def _image(rgb):
    return np.ones((4, 4, 3)) * np.asarray(rgb, float)


RED, GREEN, BLUE = [1.0, 0.1, 0.1], [0.1, 1.0, 0.1], [0.1, 0.1, 1.0]


@pytest.fixture
def db():
    model = MeanColour()
    enc = {name: embed(model, _image(c)) for name, c in (("red", RED), ("green", GREEN), ("blue", BLUE))}
    return model, enc


def test_verify_is_the_course_function(db):
    model, database = db
    img = _image([1.0, 0.3, 0.1])
    e = embed(model, img)[0]
    dist, match = verify(img, "red", database, model)
    assert dist == pytest.approx(np.linalg.norm(e - database["red"][0]))          # plain, not squared
    assert match is True and dist < 0.7
    dist, match = verify(img, "blue", database, model)
    assert match is False and dist > 0.7
    # the threshold is strict: equal distance is not a match
    dist, _ = verify(img, "red", database, model)
    assert verify(img, "red", database, model, threshold=dist)[1] is False
    assert verify(img, "red", database, model, threshold=dist * 1.0001)[1] is True


def test_who_is_it_names_the_nearest_or_none(db):
    model, database = db
    assert who_is_it(_image([0.2, 0.9, 0.2]), database, model)[1] == "green"
    dist, name = who_is_it(_image([1.0, 1.0, 0.1]), database, model, threshold=0.3)    # yellow
    assert name is None and dist >= 0.3
    dist2, name2 = who_is_it(_image([1.0, 1.0, 0.1]), database, model, threshold=0.9)
    assert dist2 == dist and name2 in ("red", "green")


def test_database_entries_in_every_layout(db):
    model, database = db
    img = _image([0.9, 0.2, 0.1])
    d_2d = verify(img, "red", database, model)[0]
    d_1d = verify(img, "red", {"red": database["red"][0]}, model)[0]                 # (d,)
    many = np.concatenate([embed(model, _image(BLUE)), database["red"]])              # (K, d): min over rows
    d_k = verify(img, "red", {"red": many}, model)[0]
    assert d_2d == pytest.approx(d_1d) == pytest.approx(d_k)


def test_bad_input(db):
    model, database = db
    with pytest.raises(KeyError, match="not in the database"):
        verify(_image(RED), "carol", database, model)
    with pytest.raises(ValueError, match="empty"):
        who_is_it(_image(RED), {}, model)
    with pytest.raises(ValueError, match="width"):
        verify(_image(RED), "red", {"red": np.ones(5)}, model)
    with pytest.raises(ValueError, match="width"):
        who_is_it(_image(RED), {"red": np.ones((1, 4))}, model)
    with pytest.raises(ValueError, match="threshold"):
        verify(_image(RED), "red", database, model, threshold=-1)
    with pytest.raises(ValueError, match="one image"):
        verify(np.ones((2, 4, 4, 3)), "red", database, model)
    with pytest.raises(TypeError, match="mapping"):
        who_is_it(_image(RED), [("red", np.ones(3))], model)


def test_database_file_roundtrip_and_refusals(tmp_path):
    model = FaceEncoder(3, width=4, embedding_dim=16, rng=0)
    rng = np.random.default_rng(0)
    faces = {"ana": rng.random((3, 16, 16, 3)).astype(np.float32),
             "bo": rng.random((2, 16, 16, 3)).astype(np.float32)}
    db = EncodingDatabase.from_images(faces, model)
    assert len(db) == 2 and db["ana"].shape == (3, 16) and db.embedding_dim == 16
    path = db.save(tmp_path / "staff")
    assert path.endswith(".npz")
    again = EncodingDatabase.load(path, model)
    assert list(again) == ["ana", "bo"]
    np.testing.assert_array_equal(again["ana"], db["ana"])
    assert who_is_it(faces["bo"][1], again, model, threshold=1e-3)[1] == "bo"        # itself: distance 0

    other = FaceEncoder(3, width=4, embedding_dim=16, rng=1)                           # other weights
    with pytest.raises(DatabaseFileError, match="another model"):
        EncodingDatabase.load(path, other)
    wider = FaceEncoder(3, width=4, embedding_dim=32, rng=0)
    with pytest.raises(DatabaseFileError, match="width"):
        EncodingDatabase.load(path, wider)
    with pytest.raises(DatabaseFileError, match="width 16"):
        EncodingDatabase.load(path, embedding_dim=8)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DatabaseFileError, match="not an npvision face database"):
        EncodingDatabase.load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        EncodingDatabase.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="empty"):
        EncodingDatabase("x", 16).save(tmp_path / "empty.npz")
    with pytest.raises(ValueError, match="width"):
        db.add("cy", np.ones(8))


def test_fingerprint_follows_the_weights():
    a = FaceEncoder(3, width=4, rng=0)
    b = FaceEncoder(3, width=4, rng=0)
    assert model_fingerprint(a) == model_fingerprint(b)
    b.fc.weight.data[0, 0] += 1e-3
    assert model_fingerprint(a) != model_fingerprint(b)


def test_database_from_a_folder_of_people(tmp_path):
    import matplotlib.image as mpimg
    model = FaceEncoder(3, width=4, embedding_dim=8, rng=0)
    rng = np.random.default_rng(1)
    for person in ("ana", "bo"):
        os.makedirs(tmp_path / person)
        for k in range(2):
            mpimg.imsave(tmp_path / person / f"{k}.png", rng.random((20, 20, 3)))
    db = EncodingDatabase.from_folder(tmp_path, model, size=16)
    assert list(db) == ["ana", "bo"] and db["bo"].shape == (2, 8)
    path = str(tmp_path / "ana" / "0.png")
    dist, name = who_is_it(path, db, model, threshold=10.0)
    assert name in ("ana", "bo")
