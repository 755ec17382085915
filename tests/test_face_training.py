"""The training loop's loss dispatch: every loss's gradient w.r.t. the batch, and a short run."""

import numpy as np
import pytest

from npvision.face import CosineSoftmaxHead, FaceEncoder, PairClassifier, embed, one_shot_accuracy, train_encoder
from npvision.face.training import DEFAULT_MARGINS, LOSSES, loss_and_gradient
from npvision.gradcheck import check_loss


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_gradient_through_the_batch(name):
    # images used in several roles (anchor here, negative there) must get the sum of their gradients
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 3)
    e = rng.standard_normal((12, 5)) * 0.5
    head = {"binary": lambda: PairClassifier(5, "abs", rng=1).astype(np.float64),
            "softmax": lambda: CosineSoftmaxHead(5, 4, rng=1).astype(np.float64)}.get(name, lambda: None)()
    margin = DEFAULT_MARGINS[name] + 0.5

    def fn(x):
        if head is not None:
            head.zero_grad()
        return loss_and_gradient(name, x, labels, margin, np.random.default_rng(7), head)

    loss, _ = fn(e)
    assert loss > 0
    check_loss(fn, e)


def test_train_encoder_learns_and_checks_its_arguments():
    # two kinds of 8x8 "faces": a bright square at one of 4 places, identity = place
    def batch(step, rng):
        labels = np.repeat(rng.choice(4, 4, replace=False), 4)
        x = rng.normal(0, 0.2, (16, 8, 8, 1)).astype(np.float32)
        for i, lab in enumerate(labels):
            r, c = divmod(int(lab), 2)
            x[i, 4 * r:4 * r + 4, 4 * c:4 * c + 4] += 1.0
        return x, labels

    enc = FaceEncoder(1, width=4, embedding_dim=8, stem_stride=1, rng=0)
    x_test, y_test = batch(0, np.random.default_rng(99))
    before = one_shot_accuracy(embed(enc, x_test), y_test, 4, 300, seed=1)
    history = train_encoder(enc, batch, 60, loss="batch_all", lr=3e-3, seed=0, progress=False)
    after = one_shot_accuracy(embed(enc, x_test), y_test, 4, 300, seed=1)
    assert len(history["loss"]) == 60 and history["seconds"] > 0
    assert np.mean(history["loss"][-10:]) < np.mean(history["loss"][:10])
    assert after >= 0.95 and after > before
    assert not enc.training
    with pytest.raises(ValueError, match="loss"):
        train_encoder(enc, batch, 1, loss="hardest")
    with pytest.raises(ValueError, match="head"):
        train_encoder(enc, batch, 1, loss="binary")
