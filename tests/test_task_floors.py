"""Every built-in task, trained for a few seconds, beats what a constant prediction scores.

Each task runs in quick mode (a small subset) with a few more epochs than the quick
default, and its held-out headline number must clear a floor set between two
measurements (seed 0, this machine; ``benchmarks/README.md`` has the full runs):

* what the task reaches with these settings (seeds 0-2), and
* what the same task scores when its network predicts a constant: every Conv2D,
  DepthwiseConv2D, ConvTranspose2D and Linear layer fed zeros at evaluation
  time, so the output no longer depends on the image (the "constant" column).

A floor sits well above the constant score and below every seed's result, so a
task whose training or evaluation breaks fails here, while a good run does not.
"""

from __future__ import annotations

import pytest

from npvision.tasks import run_task

# task -> (options on top of quick mode, [(metric, comparison, floor)], note: constant / trained (seeds 0-2))
FLOORS = {
    "lenet5": (dict(epochs=6), [("accuracy", ">=", 0.5)],
               "accuracy: constant 0.117; trained 0.65-0.80 after 4 epochs"),
    "resnet-digits": (dict(epochs=8), [("accuracy", ">=", 0.5)],
                      "accuracy: constant 0.117; trained 0.81-0.84"),
    "localization": (dict(epochs=4, n_train=512), [("mean_iou", ">=", 0.6), ("pc_accuracy", ">=", 0.9)],
                     "mean IoU: constant 0.0, p_c accuracy 0.81 (always 'object'); trained 0.72, 0.97-1.0"),
    "landmarks": (dict(epochs=4, n_train=512), [("mean_point_error", "<=", ("baseline_point_error", 0.5))],
                  "point error: constant 8.6 px, mean-points baseline 7.0 px; trained 1.5-1.6 px"),
    "unet": (dict(epochs=5, n_train=320, size=32, lr=0.006), [("miou", ">=", 0.22)],
             "mean IoU: constant 0.182 (all background: 91% of the pixels); trained 0.265-0.296"),
    "fcn": (dict(epochs=6, n_train=256, lr=0.006), [("miou", ">=", 0.28)],
            "mean IoU: constant 0.182; trained 0.346-0.355"),
    "sliding-windows": (dict(epochs=8, n_train=600), [("accuracy", ">=", 0.7), ("map50", ">=", 0.1)],
                        "window accuracy: constant 0.64 (always background), mAP@0.5 0; trained 0.77-0.83, 0.25-0.38"),
    "yolo": (dict(epochs=4, n_train=384), [("map50", ">=", 0.08)],
             "mAP@0.5: constant 0.0; trained 0.15-0.17"),
    "face": (dict(epochs=1), [("verification_accuracy", ">=", 0.75), ("one_shot_5way", ">=", 0.55)],
             "10-fold verification: constant 0.5, untrained 0.592 (= raw pixels); trained 0.833-0.853; "
             "one-shot 5-way: constant 0.0, untrained 0.342, trained 0.760-0.806"),
    "face-digits": (dict(epochs=1), [("one_shot_5way", ">=", 0.61)],
                    "one-shot 5-way on unseen 5-9: constant 0.0, untrained 0.564, trained 0.654-0.720"),
}


def _holds(value, comparison, floor, metrics):
    if isinstance(floor, tuple):                     # a fraction of another reported number
        key, fraction = floor
        floor = fraction * metrics[key]
    return (value >= floor if comparison == ">=" else value <= floor), floor


@pytest.mark.parametrize("task", sorted(FLOORS))
def test_quick_training_beats_a_constant_prediction(task):
    options, floors, note = FLOORS[task]
    metrics = run_task(task, quick=True, progress=False, seed=0, **options)
    assert metrics["epochs"] == options["epochs"]                  # explicit options win over quick mode
    for name, comparison, floor in floors:
        ok, bound = _holds(metrics[name], comparison, floor, metrics)
        assert ok, f"{task}: held-out {name} = {metrics[name]:.4f}, expected {comparison} {bound:.4f} ({note})"
