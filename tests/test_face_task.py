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
    # floors between what an encoder that learned nothing scores and what quick training reaches
    # (measured, seed 0 quick mode; trained: seeds 0-2):
    #                  constant*   untrained (lr=0)   trained
    # verification     0.500       0.592              0.833-0.853   (raw pixels 0.592)
    # one-shot 5-way   0.0         0.342              0.760-0.806
    # one-shot 20-way  0.0         0.118              0.440-0.494
    # * every Conv2D / Linear fed zeros at evaluation: all encodings equal, every episode a tie
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
    # one-shot 5-way after 40 quick steps: constant encoder 0.0, untrained (lr 0) 0.564, trained
    # (seeds 0-2) 0.654, 0.658, 0.720; raw pixels 0.746 (the full runs: 0.851-0.860,
    # benchmarks/train_face.md). The margin over the untrained encoder is small in quick mode:
    # random conv features of a flatten head are already near pixel quality on digits.
    assert m["one_shot_5way"] >= 0.61
    assert os.path.getsize(tmp_path / "one_shot.png") > 0


def test_quick_binary_variant_trains_end_to_end():
    m = run_task("face", quick=True, progress=False, loss="binary")
    assert m["loss"] == "binary"
    assert m["verification_accuracy"] >= 0.65        # constant 0.5, untrained 0.574, trained 0.708-0.737


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="loss"):
        run_task("face", quick=True, progress=False, loss="hardest")


def test_digit_splits_are_checked():
    for train, test in [((0, 1), (1, 2)), ((0,), (5,)), ((0, 10), (5, 6)), ((0, 0), (5, 6))]:
        with pytest.raises(ValueError, match="train_digits, test_digits"):
            run_task("face-digits", quick=True, progress=False, train_digits=train, test_digits=test)
    with pytest.raises(ValueError, match="p, p_glyphs"):          # 3 digit classes per batch from 2
        run_task("face-digits", quick=True, progress=False, train_digits=(0, 1), test_digits=(5, 6), p=3)


def test_training_batches_hold_only_the_train_digits(monkeypatch):
    """benchmarks/tune_face_digits.py's protocol B trains on 0-2 and scores 3-4: no other digit trains."""
    from npvision.data import load_digits
    from npvision.tasks import classify_digits

    seen = []                                                    # every training batch, before augmentation
    augment = classify_digits.random_affine

    def spy(x, rng, **kw):
        seen.append(x.copy())
        return augment(x, rng, **kw)

    monkeypatch.setattr(classify_digits, "random_affine", spy)
    m = run_task("face-digits", quick=True, progress=False, train_digits=(0, 1, 2), test_digits=(3, 4), p=3,
                 p_glyphs=4, k=4, steps_per_epoch=3, episodes=200, pairs=200)
    assert m["train_classes"] == [0, 1, 2] and m["test_classes"] == [3, 4]
    assert m["n_train"] == 178 + 182 + 177 and m["n_test"] == 183 + 181       # digit images of 0-2, 3-4
    assert m["one_shot_5way"] is None and 0.5 < m["one_shot_2way"] <= 1
    digits, labels = load_digits(size=16)
    batch = np.concatenate(seen)                                 # (3 steps x 28, 16, 16, 1)
    diff = np.abs(batch.reshape(len(batch), 1, -1) - digits.reshape(1, len(digits), -1)).max(axis=2)
    is_digit = diff.min(axis=1) < 1e-6                           # (84,) the image is one of the digits
    assert is_digit.sum() == 3 * 3 * 4                           # p x k digit images per step, glyphs the rest
    assert set(labels[diff[is_digit].argmin(axis=1)]) == {0, 1, 2}


def test_shift_images_and_test_time_averaging():
    from npvision.face import FaceEncoder, embed
    from npvision.tasks.face import embed_shifted, shift_images

    x = np.arange(2 * 4 * 5 * 1, dtype=np.float32).reshape(2, 4, 5, 1) + 1
    down = shift_images(x, 1, 0)
    np.testing.assert_array_equal(down[:, 1:], x[:, :-1])
    assert (down[:, 0] == 0).all()
    left = shift_images(x, 0, -2)
    np.testing.assert_array_equal(left[:, :, :-2], x[:, :, 2:])
    assert (left[:, :, -2:] == 0).all()
    enc = FaceEncoder(1, 4, 8, stem_stride=1, pool="flatten", input_size=8, rng=0)
    imgs = np.random.default_rng(0).random((3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(embed_shifted(enc, imgs, 0), embed(enc, imgs))
    e = embed_shifted(enc, imgs, 1)
    moves = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    m = np.mean([embed(enc, shift_images(imgs, dy, dx)) for dy, dx in moves], axis=0)
    np.testing.assert_allclose(e, m / np.linalg.norm(m, axis=1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, rtol=1e-5)
    one = embed_shifted(enc, imgs[1:2], 1)                        # each image encoded from itself alone
    np.testing.assert_allclose(one[0], e[1], rtol=1e-5, atol=1e-6)
