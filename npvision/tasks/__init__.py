"""Ready-made training tasks: one name trains a model end to end and reports held-out numbers.

    >>> from npvision.tasks import TASKS, run_task
    >>> "lenet5" in TASKS and "resnet-digits" in TASKS               # available_tasks() lists all
    True
    >>> metrics = run_task("lenet5", seed=0, out="runs/lenet5")      # a minute or two
    >>> metrics["accuracy"]                                          # held-out test split
    0.99...

``run_task(name, epochs=None, seed=0, out=None, quick=False, progress=True, **options)``
returns a JSON-able dict of the final metrics. Every task reports at least

=================  ==============================================================
``"task"``         the task's name
``"metric"``       the name of its headline metric (``"accuracy"`` for classifiers)
``"seconds"``      wall time of the whole run: data, training, evaluation, pictures
``"epochs"``       epochs trained
``"n_train"``      training samples (the validation split excluded)
``"n_test"``       held-out test samples
``"parameters"``   trainable parameters of the model
=================  ==============================================================

plus the headline metric itself, measured on a test split that takes no part
in training or in model selection (classifiers also give ``"train_accuracy"``).
With ``out`` (a folder, created if needed) a task writes its pictures (training
curves, predictions, filters), its weights (:func:`npvision.io.save_weights`)
and ``metrics.json``, which holds exactly the returned dict. ``quick=True``
applies the task's quick settings (one epoch on a small subset: seconds, for
tests and notebooks); an explicit ``epochs`` or option still wins over them, so
``run_task("lenet5", quick=True, epochs=5)`` trains five epochs on the subset.

Adding a task
-------------
A task is a function, its default settings and the name of its headline
metric. Write the function in a module of this package and decorate it::

    @register_task("yolo-scenes", metric="map", description="YOLO on synthetic scenes",
                   quick=dict(n_train=64, epochs=1),
                   epochs=20, batch_size=16, lr=1e-3, grid=7, n_train=6000)
    def yolo_scenes(config, *, seed, out, quick, progress):
        ...                               # build data and model from `config` and `seed`
        ...                               # train; if `out` is a folder, save pictures there
        return {"map": 0.71, "epochs": ..., "n_train": ..., "n_test": ..., "parameters": ...}

``config`` is a fresh dict of the defaults, then (with ``quick=True``) the
task's ``quick`` settings, then ``epochs`` and any keyword options of
:func:`run_task` (an option the task does not declare is an error). The function returns its metrics as plain numbers, strings, lists
and dicts; :func:`run_task` adds ``task``, ``metric`` and ``seconds``, checks the
required keys and writes ``metrics.json``. Then import the module at the end
of this file so that the decorator runs. A detection task reports ``"map"``, a
segmentation task ``"mean_iou"``: whatever its ``metric`` names.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Task", "TASKS", "register_task", "get_task", "available_tasks", "run_task",
           "REQUIRED_KEYS"]

#: keys every task's result must hold (the headline metric comes on top).
REQUIRED_KEYS = ("task", "metric", "seconds", "epochs", "n_train", "n_test", "parameters")


@dataclass(frozen=True)
class Task:
    """A registered task: ``run(config, *, seed, out, quick, progress) -> dict``.

    ``defaults`` is the task's configuration (always with ``"epochs"``); ``quick``
    the settings that replace some of them in quick mode; ``metric`` names the
    headline number in the result (e.g. ``"accuracy"``, ``"map"``).
    """

    name: str
    run: Callable[..., dict]
    metric: str
    description: str
    defaults: dict = field(default_factory=dict)
    quick: dict = field(default_factory=dict)


#: name -> :class:`Task`, filled by :func:`register_task`.
TASKS: dict[str, Task] = {}


def _canonical(name: str) -> str:
    """Task names are lower case with ``-``; ``RESNET_digits`` finds ``resnet-digits``."""
    return name.strip().lower().replace("_", "-")


def register_task(name: str, *, metric: str, description: str, quick: dict | None = None,
                  **defaults) -> Callable:
    """Decorator: register ``fn(config, *, seed, out, quick, progress) -> dict`` as task ``name``.

    ``defaults`` become the task's configuration; it must include ``epochs`` (int >= 1).
    ``quick`` (a dict of some of those keys) replaces them when the task runs in quick mode.
    """
    if not isinstance(name, str) or not name or _canonical(name) != name:
        raise ValueError(f"name: expected a lower-case task name using '-' (e.g. 'resnet-digits'), "
                         f"received {name!r}")
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric: expected the name of the headline metric, received {metric!r}")
    epochs = defaults.get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"defaults: task {name!r} needs epochs=<int >= 1> among its defaults, "
                         f"received epochs={epochs!r}")

    quick = dict(quick or {})
    unknown = sorted(set(quick) - set(defaults))
    if unknown:
        raise ValueError(f"quick: task {name!r} has no setting {', '.join(map(repr, unknown))} to "
                         f"replace in quick mode; its settings are {sorted(defaults)}")

    def deco(fn: Callable) -> Callable:
        if name in TASKS:
            raise ValueError(f"name: a task called {name!r} is already registered")
        TASKS[name] = Task(name, fn, metric, description, dict(defaults), quick)
        return fn
    return deco


def available_tasks() -> list[str]:
    """The registered task names, sorted."""
    return sorted(TASKS)


def get_task(name: str) -> Task:
    """The :class:`Task` called ``name`` (case and ``_``/``-`` are ignored)."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a task name (str), received {type(name).__name__}")
    key = _canonical(name)
    if key not in TASKS:
        listing = "\n".join(f"  {n:<15s} {TASKS[n].description}" for n in available_tasks())
        raise ValueError(f"name: unknown task {name!r}; available tasks:\n{listing}")
    return TASKS[key]


def _to_json_value(value, where: str):
    """``value`` with NumPy scalars/arrays and tuples turned into plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _to_json_value(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "tolist"):                        # NumPy scalar or array
        return _to_json_value(value.tolist(), where)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{where}: a task result must be JSON-able (numbers, str, lists, dicts), "
                    f"received {type(value).__name__}")


def run_task(name: str, epochs: int | None = None, seed: int = 0, out=None, quick: bool = False,
             progress: bool = True, **options) -> dict:
    """Train task ``name`` and return its held-out metrics (see the module docstring).

    Parameters
    ----------
    name : a key of :data:`TASKS` (``"lenet5"``, ``"resnet-digits"``, ...).
    epochs : override the task's default number of epochs (int >= 1).
    seed : int; the whole run (weights, splits, shuffling, augmentation) follows from it.
    out : folder for pictures, weights and ``metrics.json`` (created), or None.
    quick : the task's quick settings (one epoch on a small subset), for tests and demos;
        ``epochs`` and ``options`` given here still override them.
    progress : print one line per epoch.
    options : any other of the task's defaults, e.g. ``lr=1e-3`` or ``batch_size=64``.
    """
    task = get_task(name)
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise ValueError(f"epochs: expected None or an int >= 1, received {epochs!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0, received {seed!r}")
    unknown = sorted(set(options) - set(task.defaults))
    if unknown:
        raise ValueError(f"options: task {task.name!r} has no setting {', '.join(map(repr, unknown))}; "
                         f"its settings are {sorted(task.defaults)}")
    config = dict(task.defaults)
    if quick:
        config.update(task.quick)
    config.update(options)
    if epochs is not None:
        config["epochs"] = epochs
    if out is not None:
        out = os.fspath(out)
        os.makedirs(out, exist_ok=True)

    start = time.perf_counter()
    result = task.run(config, seed=seed, out=out, quick=bool(quick), progress=bool(progress))
    seconds = time.perf_counter() - start

    if not isinstance(result, dict):
        raise TypeError(f"task {task.name!r}: returned {type(result).__name__}, expected a dict")
    metrics = {"task": task.name, "metric": task.metric, "seconds": round(seconds, 2)}
    metrics.update(_to_json_value(result, f"task {task.name!r} result"))
    missing = [k for k in (*REQUIRED_KEYS, task.metric) if k not in metrics]
    if missing:
        raise ValueError(f"task {task.name!r}: its result lacks {missing}; it returned {sorted(result)}")
    if out is not None:
        with open(os.path.join(out, "metrics.json"), "w") as fh:
            json.dump(metrics, fh, indent=2)
            fh.write("\n")
    return metrics


# Task modules register themselves on import; add new ones here.
from . import classify_digits  # noqa: E402,F401
from . import segment  # noqa: E402,F401
from . import localize  # noqa: E402,F401
from . import windows  # noqa: E402,F401
from . import yolo  # noqa: E402,F401
