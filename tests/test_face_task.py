"""The face tasks in quick mode (floors a constant encoder cannot pass) and npvision verify / who.

Full runs, their numbers and times are in benchmarks/train_face.md, not here.
"""

import json
import os

import matplotlib.image as mpimg
import numpy as np
import pytest

from npvision import cli
from npvision.data import make_face_identities, render_faces
from npvision.tasks import run_task
from npvision.tasks.face import _TEST_SEED, load_face_model

PICTURES = ("identities.png", "distances.png", "roc.png", "embeddings.png", "hardest_triplets.png",
            "one_shot.png", "curves.png")


@pytest.fixture(scope="module")
def quick_face(tmp_path_factory):
    out = tmp_path_factory.mktemp("face")
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["train", "face", "--quick", "--json", "--out", str(out)])
    assert code == 0
    return json.loads(buf.getvalue().strip().splitlines()[-1]), out


def test_quick_face_reports_the_issue_keys_and_beats_pixels(quick_face):
    m, _ = quick_face
    for key in ("verification_accuracy", "verification_std", "val_at_far_1e-3", "one_shot_5way",
                "one_shot_20way", "pixel_baseline_accuracy", "seconds", "task", "epochs", "n_train",
                "n_test", "parameters"):
        assert key in m, key
    # floors: a constant encoder scores 0.5 (all distances equal) and 0.0 one-shot (all ties)
    assert m["verification_accuracy"] >= 0.75
    assert m["verification_accuracy"] >= m["pixel_baseline_accuracy"] + 0.12
    assert m["one_shot_5way"] >= 0.55 and m["one_shot_20way"] >= 0.25
    assert m["pixel_baseline_accuracy"] <= 0.75                 # the calibration holds on the test people
    assert m["quick"] is True and m["test_identities"] == 60


def test_quick_face_writes_pictures_and_a_loadable_model(quick_face):
    m, out = quick_face
    for name in PICTURES + ("weights.npz", "metrics.json", "history.json"):
        assert os.path.getsize(out / name) > 0, name
    with open(out / "metrics.json") as fh:
        assert json.load(fh) == m
    encoder, extra = load_face_model(out)
    assert extra["input_shape"] == [32, 32, 3]
    assert extra["threshold"] == pytest.approx(m["threshold"])
    assert encoder.embedding_dim == 128 and not encoder.training


def test_verify_and_who_commands(quick_face, tmp_path, capsys):
    _, out = quick_face
    people = make_face_identities(60, _TEST_SEED)                   # held-out people
    for k, person in enumerate((0, 1, 2)):
        os.makedirs(tmp_path / "db" / f"p{person}")
        for j, img in enumerate(render_faces(people, [person] * 3, seed=10 + k)):
            mpimg.imsave(tmp_path / "db" / f"p{person}" / f"{j}.png", img)
    for j, img in enumerate(render_faces(people, [0, 0], seed=99)):
        mpimg.imsave(tmp_path / f"q{j}.png", img)

    assert cli.main(["verify", str(tmp_path / "q0.png"), str(tmp_path / "q1.png"), "--model", str(out),
                     "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert set(v) >= {"distance", "same_person", "threshold"} and v["distance"] >= 0
    assert cli.main(["who", str(tmp_path / "q0.png"), "--model", str(out), "--database",
                     str(tmp_path / "db"), "--save-database", str(tmp_path / "db.npz"), "--json"]) == 0
    w = json.loads(capsys.readouterr().out)
    assert w["people"] == 3 and (w["identity"] is None or w["identity"] in ("p0", "p1", "p2"))
    # a threshold nobody passes: "not in the database"
    assert cli.main(["who", str(tmp_path / "q0.png"), "--model", str(out), "--database",
                     str(tmp_path / "db.npz"), "--threshold", "1e-6"]) == 0
    assert "not in the database" in capsys.readouterr().out

    # clear errors, exit code 1
    assert cli.main(["verify", str(tmp_path / "nope.png"), str(tmp_path / "q1.png"), "--model", str(out)]) == 1
    assert "no such image file" in capsys.readouterr().err
    assert cli.main(["verify", str(tmp_path / "q0.png"), str(tmp_path / "q1.png"), "--model",
                     str(tmp_path / "nomodel")]) == 1
    assert "weights.npz" in capsys.readouterr().err
    assert cli.main(["who", str(tmp_path / "q0.png"), "--model", str(out), "--database",
                     str(tmp_path / "missing")]) == 1
    assert "no such folder" in capsys.readouterr().err
    os.makedirs(tmp_path / "emptydb")
    assert cli.main(["who", str(tmp_path / "q0.png"), "--model", str(out), "--database",
                     str(tmp_path / "emptydb")]) == 1
    assert "sub-folders" in capsys.readouterr().err


def test_quick_face_digits_one_shot_on_unseen_classes(tmp_path):
    m = run_task("face-digits", quick=True, out=tmp_path, progress=False)
    assert m["test_classes"] == [5, 6, 7, 8, 9]
    assert m["one_shot_5way"] >= 0.45                           # chance 0.2; a constant encoder 0.0
    assert os.path.getsize(tmp_path / "one_shot.png") > 0


def test_quick_binary_variant_trains_end_to_end():
    m = run_task("face", quick=True, progress=False, loss="binary")
    assert m["loss"] == "binary"
    assert m["verification_accuracy"] >= 0.65


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="loss"):
        run_task("face", quick=True, progress=False, loss="hardest")
