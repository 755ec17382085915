"""The ``npvision`` command.

    npvision --help              every command, with a one-line summary
    npvision demo --out DIR      a guided tour: build a ConvNet, backprop,
                                 gradient-check, and draw what the layers see
    python -m npvision demo      the same, without the console script

Commands live in one registry, :data:`COMMANDS`. Adding one is a call to
:func:`register_command` with its name, its help, a function that adds its
arguments to an ``argparse`` parser, and a function that runs it::

    def _add_train_arguments(parser):
        parser.add_argument("task", choices=[...])

    def _run_train(args) -> int:
        from . import train           # import heavy modules inside the handler
        ...
        return 0

    register_command("train", help="train a model on a built-in task",
                     configure=_add_train_arguments, run=_run_train)

Handlers import what they need when they run, so ``npvision --help`` does not
load numba or matplotlib.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

from ._cli_helpers import (UsageError, did_you_mean, json_stdout, latest_run_folder, next_run_folder,
                           output_file, output_folder, plural)

__all__ = ["Command", "COMMANDS", "register_command", "build_parser", "main"]


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a wrong value is a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, received {value}")
    return value


def _model_warning(image, training_data, class_names, image_name: str) -> str:
    """A warning when ``image`` looks unlike the model's training images (``""`` otherwise)."""
    if not training_data:
        return ""
    from .data.profile import unfamiliarity

    found = unfamiliarity(image, training_data)
    if not found["unfamiliar"]:
        return ""
    return (f"{image_name} looks unlike the images this model was trained on "
            f"({training_data['description']}): {found['reason']}. It knows only the classes "
            f"{', '.join(class_names)}, so its answers on this image may mean little.")


def _missing_model(path: str, task: str, what: str) -> str:
    return (f"no trained {what} in {path!r}; train one first: 'npvision train {task} --out {path}' "
            f"(add --quick for a try in seconds), or point to one with --model DIR")


@dataclass(frozen=True)
class Command:
    """One sub-command of ``npvision``.

    ``configure(parser)`` adds the command's arguments; ``run(args)`` does the
    work and returns the exit code (``None`` counts as 0).
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], "int | None"]
    description: str | None = None


#: name -> Command, in the order they appear in ``npvision --help``.
COMMANDS: dict[str, Command] = {}


def register_command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None],
                     run: Callable[[argparse.Namespace], "int | None"],
                     description: str | None = None, replace: bool = False) -> Command:
    """Add a sub-command to :data:`COMMANDS` (``replace=True`` to redefine one)."""
    if not isinstance(name, str) or not name or name.startswith("-") or " " in name:
        raise ValueError(f"name: expected a command word such as 'train', received {name!r}")
    if name in COMMANDS and not replace:
        raise ValueError(f"name: a command {name!r} is already registered; pass replace=True "
                         f"to redefine it")
    cmd = Command(name=name, help=help, configure=configure, run=run, description=description)
    COMMANDS[name] = cmd
    return cmd


# -- demo ----------------------------------------------------------------------
def _add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="npvision-out", metavar="DIR",
                        help="folder for the pictures (created if needed; default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="random seed for the weights and the batches (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller batches and fewer steps: a few seconds instead of a minute")


def _run_demo(args: argparse.Namespace) -> int:
    from . import tour

    result = tour.run(out_dir=args.out, seed=args.seed, quick=args.quick, progress=True)
    # A failed gradient check is worth a non-zero exit code (e.g. in CI).
    return 0 if result.get("gradcheck_passed", True) else 1


register_command(
    "demo",
    help="the main demo: train LeNet-5 on the built-in digits, gradient-check, draw pictures",
    description=(
        "Train LeNet-5 on the built-in handwritten digits with a progress bar (about a "
        "minute on 2 cores; --quick: seconds) and report its accuracy on held-out digits, "
        "gradient-check a Conv2D layer and a max-pool in float64 and print the relative "
        "errors, then save pictures into DIR: training curves, a grid of test predictions, "
        "the first layer's filters and feature maps, and classic edge filters (vertical, "
        "horizontal, Sobel, Scharr) applied to a photograph shipped with npvision."),
    configure=_add_demo_arguments,
    run=_run_demo,
)


# -- train ---------------------------------------------------------------------
def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    from .tasks import TASKS  # numpy only: no numba, no matplotlib

    listing = "\n".join(f"  {name:<16s} {task.description} (headline: {task.metric})"
                         for name, task in TASKS.items())
    parser.epilog = "tasks:\n" + listing
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("task", metavar="TASK", help="what to train (listed below)")
    parser.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                        help="epochs, an integer >= 1 (default: the task's own, chosen to reach its target)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="random seed for weights, splits, batches and augmentation (default: %(default)s)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="folder for weights, pictures and metrics.json (default: npvision-out/TASK, "
                             "or npvision-out/TASK-2, -3, ... when that exists: a new run never "
                             "overwrites an old one; an explicit --out DIR is written into as is)")
    parser.add_argument("--quick", action="store_true",
                        help="one epoch on a small subset: seconds, to try the pipeline")
    parser.add_argument("--json", action="store_true",
                        help="print the held-out metrics as one JSON object on stdout's last line "
                             "(progress still shows, on stderr)")


def _task_name(name: str) -> str:
    """The registered task ``name`` denotes, or a usage error with the closest name and the list."""
    from .tasks import TASKS, _canonical

    key = _canonical(name)
    if key not in TASKS:
        listing = ", ".join(sorted(TASKS))
        raise UsageError(f"unknown task {name!r}{did_you_mean(key, TASKS)} (tasks: {listing}; "
                         f"'npvision train --help' describes them)")
    return key


def _run_train(args: argparse.Namespace) -> int:
    import json

    from .tasks import run_task

    task = _task_name(args.task)
    out = output_folder(args.out) if args.out is not None else next_run_folder(f"npvision-out/{task}")
    with json_stdout(args.json) as emit:
        metrics = run_task(task, epochs=args.epochs, seed=args.seed, out=out, quick=args.quick,
                           progress=True)
    if args.json:
        emit(json.dumps(metrics))
    else:
        headline = metrics["metric"]
        print(f"{task}: held-out {headline} {metrics[headline]:.4f} in {metrics['seconds']:.1f} s; "
              f"weights, pictures and metrics.json in {out}")
    return 0


register_command(
    "train",
    help="train a model on a built-in task and report its held-out metrics",
    description=("Train one of the built-in tasks end to end: data, model, training with a "
                 "progress bar, evaluation on a held-out split that took no part in training, "
                 "and pictures. With --json the last line is one JSON object with at least "
                 "'task', 'seconds' and the task's headline metric."),
    configure=_add_train_arguments,
    run=_run_train,
)


# -- segment -------------------------------------------------------------------
def _add_segment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="an image file (PNG or JPEG), any size")
    parser.add_argument("--weights", default=None, metavar="FILE",
                        help="weights written by 'npvision train unet --out DIR' (default: "
                             "weights.npz of the latest npvision-out/unet run)")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="a model folder instead of --weights: one written by 'npvision train mask-rcnn "
                             "--out DIR' (instances: each object its own colour, class and score) or by "
                             "'npvision train unet --out DIR' (a class per pixel)")
    parser.add_argument("--score-threshold", type=float, default=None, metavar="S",
                        help="Mask R-CNN: keep instances scoring at least S (default: the model's own)")
    parser.add_argument("--out", default="segmented.png", metavar="PATH",
                        help="picture of the image, its mask and a legend (default: %(default)s; a folder "
                             "means IMAGE_segmented.png inside it); the mask itself goes to the same name "
                             "with .npy")
    parser.add_argument("--json", action="store_true",
                        help="print the summary as one JSON object on stdout's last line")


def _run_segment(args: argparse.Namespace) -> int:
    import json
    import os

    stem = os.path.splitext(os.path.basename(args.image))[0]
    out = output_file(args.out, f"{stem}_segmented.png")
    if args.model is not None and os.path.isfile(os.path.join(args.model, "mask_rcnn.json")):
        from .tasks.mask_rcnn import segment_instances

        with json_stdout(args.json) as emit:
            result = segment_instances(args.image, args.model, out, args.score_threshold)
        if args.json:
            emit(json.dumps(result))
        else:
            print(f"{args.image}: {plural(len(result['instances']), 'instance')} (picture: {out}, "
                  f"masks: {result['masks']})")
            for r in result["instances"]:
                print(f"  {r['class']:<10s} {r['score']:.3f}  {r['pixels']} pixels")
        return 0
    if args.model is not None:
        weights = os.path.join(args.model, "weights.npz")
        if not os.path.isfile(weights):
            raise ValueError(f"--model: {args.model!r} holds neither mask_rcnn.json (a Mask R-CNN written by "
                             f"'npvision train mask-rcnn --out DIR') nor weights.npz (a U-Net written by "
                             f"'npvision train unet --out DIR')")
    elif args.weights is not None:
        weights = args.weights
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"--weights: no such file {weights!r}; train a U-Net first: "
                                    f"'npvision train unet --out DIR' writes DIR/weights.npz")
    else:
        folder = latest_run_folder("npvision-out/unet")
        weights = os.path.join(folder, "weights.npz")
        if not os.path.isfile(weights):
            raise FileNotFoundError(_missing_model(folder, "unet", "U-Net"))

    from .tasks.segment import segment_image

    with json_stdout(args.json) as emit:
        result = segment_image(args.image, weights, out)
        warning = ""
        if result["training_data"]:
            from .data import read_image

            warning = _model_warning(read_image(args.image, channels=3), result["training_data"],
                                     result["classes"][1:], args.image)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
    result.pop("training_data")
    if args.json:
        emit(json.dumps(dict(result, weights=weights, warning=warning or None)))
    else:
        counts = ", ".join(f"{c} {n}" for c, n in result["pixels_per_class"].items())
        print(f"wrote {result['picture']} and {result['mask']}  (pixels per class: {counts}; "
              f"weights {weights})")
    return 0


register_command(
    "segment",
    help="label every pixel of an image with a trained U-Net, or every object with a Mask R-CNN",
    description=("Predict a class for every pixel of IMAGE with weights trained by "
                 "'npvision train unet' and save the image, the colour-coded mask and a legend; "
                 "with --model DIR holding a Mask R-CNN ('npvision train mask-rcnn'), find every "
                 "object and draw its mask in its own colour with its class and score."),
    configure=_add_segment_arguments,
    run=_run_segment,
)


# -- detect --------------------------------------------------------------------
def _add_detect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", nargs="+",
                        help="image files (PNG or JPEG, any size) and/or folders of them; "
                             "'npvision sample-scene' writes one to try")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="a detector folder written by 'npvision train yolo --out DIR' "
                             "(default: the latest npvision-out/yolo run)")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="where the pictures go: for one image a file (default: detections.png; a "
                             "folder means IMAGE_detections.png inside it), for several a folder "
                             "(default: detections/) with IMAGE_detections.png for each")
    parser.add_argument("--score-threshold", type=float, default=None, metavar="S",
                        help="keep boxes scoring at least S (default: the detector's own)")
    parser.add_argument("--json", action="store_true",
                        help="print the detections as one JSON object on stdout's last line instead of a table")


def _run_detect(args: argparse.Namespace) -> int:
    import json
    import os

    from ._cli_helpers import image_files
    from .data import read_image
    from .detection.detector import load_detector

    images = image_files(args.image)
    if args.score_threshold is not None and not 0.0 <= args.score_threshold <= 1.0:
        raise UsageError(f"--score-threshold: expected a number in [0, 1], received {args.score_threshold}")
    folder = args.model if args.model is not None else latest_run_folder("npvision-out/yolo")
    if not os.path.isdir(folder) or not os.listdir(folder):
        raise FileNotFoundError(_missing_model(folder, "yolo", "detector"))
    detector = load_detector(folder)
    if args.score_threshold is not None:
        detector.score_threshold = float(args.score_threshold)
    names = list(detector.class_names)
    single = len(images) == 1 and not os.path.isdir(args.image[0])
    if single:
        stem = os.path.splitext(os.path.basename(images[0]))[0]
        pictures = [output_file("detections.png" if args.out is None else args.out, f"{stem}_detections.png")]
    else:
        out_dir = output_folder("detections" if args.out is None else args.out)
        pictures = [os.path.join(out_dir, os.path.splitext(os.path.basename(p))[0] + "_detections.png")
                    for p in images]
    profile = getattr(detector, "training_data", None)

    from .viz.boxes import plot_detections

    results = []
    with json_stdout(args.json) as emit:
        if not args.json:
            trained = f", trained on {profile['description']}" if profile else ""
            print(f"detector {folder}: classes {', '.join(names)}{trained}")
        for path, picture in zip(images, pictures):
            image = read_image(path, channels=3)
            found = detector.detect(image)
            rows = [{"class": names[int(c)], "score": round(float(s), 4),
                     "box_xyxy": [round(float(v), 1) for v in b]}
                    for b, s, c in zip(found["boxes"], found["scores"], found["classes"])]
            plot_detections(image, found, class_names=names, path=picture,
                            title=f"{os.path.basename(path)}: {plural(len(rows), 'object')}")
            warning = _model_warning(image, profile, names, path)
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
            results.append({"image": path, "picture": picture, "detections": rows, "warning": warning or None})
            if not args.json:
                print(f"{path}: {plural(len(rows), 'object')} (picture: {picture})")
                for r in rows:
                    x0, y0, x1, y1 = r["box_xyxy"]
                    print(f"  {r['class']:<10s} {r['score']:.3f}  ({x0:.1f}, {y0:.1f}) - ({x1:.1f}, {y1:.1f})")
    if args.json:
        emit(json.dumps(dict(results[0], model=folder) if single else {"model": folder, "results": results}))
    return 0


register_command(
    "detect",
    help="find and box the objects in an image with a trained YOLO detector",
    description=("Run the detector trained by 'npvision train yolo' on IMAGE (resized to the "
                 "detector's input size; boxes are given in IMAGE's own pixels), print every "
                 "object's class, score and box, and save the image with the boxes drawn."),
    configure=_add_detect_arguments,
    run=_run_detect,
)


# -- proposals -----------------------------------------------------------------
def _add_proposals_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="an image file (PNG or JPEG)")
    parser.add_argument("--mode", choices=("single", "fast", "quality"), default="fast",
                        help="selective search strategies: 1, 8 or 80 (default: %(default)s)")
    parser.add_argument("--top", type=int, default=20, metavar="N",
                        help="how many of the best proposals to draw and list (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="seed of the ranking's random numbers (default: %(default)s)")
    parser.add_argument("--out", default="proposals.png", metavar="PATH",
                        help="picture of the image with the top proposals (default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as one JSON object instead of a table")


def _run_proposals(args: argparse.Namespace) -> int:
    import json
    import os
    import time

    from .data import read_image
    from .detection.selective_search import selective_search

    if args.top < 1:
        raise UsageError(f"--top: expected an integer >= 1, received {args.top}")
    if not os.path.isfile(args.image):
        raise ValueError(f"no such image file: {args.image!r}")
    if os.path.getsize(args.image) == 0:
        raise ValueError(f"image file {args.image!r} is empty (0 bytes)")
    image = read_image(args.image, channels=3)
    start = time.perf_counter()
    boxes = selective_search(image, mode=args.mode, seed=args.seed)
    seconds = time.perf_counter() - start

    from .viz.proposals import plot_proposals

    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    h, w = image.shape[:2]
    plot_proposals(image, boxes, top=args.top, path=args.out,
                   title=f"{os.path.basename(args.image)} ({w}x{h}), {args.mode} mode:\n"
                         f"top {min(args.top, len(boxes))} of {len(boxes)} proposals")
    top = [[round(float(v), 1) for v in b] for b in boxes[:args.top]]
    if args.json:
        print(json.dumps({"image": args.image, "picture": args.out, "mode": args.mode,
                          "width": w, "height": h, "proposals": len(boxes),
                          "seconds": round(seconds, 4), "boxes_xyxy": top}))
    else:
        print(f"{args.image}: {len(boxes)} proposals in {seconds:.2f} s ({args.mode} mode); "
              f"the top {len(top)} drawn in {args.out}")
        for rank, (x0, y0, x1, y1) in enumerate(top, 1):
            print(f"  #{rank:<4d} ({x0:.0f}, {y0:.0f}) - ({x1:.0f}, {y1:.0f})")
    return 0


register_command(
    "proposals",
    help="propose object boxes in an image with selective search and draw the best ones",
    description=("Run selective search (Uijlings et al. 2013) on IMAGE: graph-based "
                 "segmentation, then hierarchical grouping of regions by colour, texture, size "
                 "and fill in several colour spaces and scales. Print the best proposals "
                 "(xyxy pixels, best first) and save the image with them drawn."),
    configure=_add_proposals_arguments,
    run=_run_proposals,
)


# -- sample-scene --------------------------------------------------------------
def _add_sample_scene_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="scene.png", metavar="PATH",
                        help="the PNG to write (default: %(default)s); with --count N > 1 a folder that "
                             "receives scene-1.png ... scene-N.png")
    parser.add_argument("--count", type=_positive_int, default=1, metavar="N",
                        help="how many scenes (default: %(default)s)")
    parser.add_argument("--size", type=_positive_int, nargs="+", default=[64], metavar="PX",
                        help="height [width] in pixels (default: 64; the built-in detectors were trained "
                             "on 64x64 scenes and resize any image to that)")
    parser.add_argument("--objects", type=_positive_int, default=3, metavar="K",
                        help="at most K shapes per scene (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="N",
                        help="random seed of the scenes (default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print the files and their objects as one JSON object on stdout's last line")


def _run_sample_scene(args: argparse.Namespace) -> int:
    import json
    import os

    import matplotlib.image as mpimg
    import numpy as np

    from .data import make_scenes
    from .data.scenes import SHAPE_CLASSES

    if len(args.size) > 2:
        raise UsageError(f"--size: expected HEIGHT [WIDTH], received {len(args.size)} numbers")
    if args.seed < 0:
        raise UsageError(f"--seed: expected an integer >= 0, received {args.seed}")
    size = (args.size[0], args.size[-1])
    if min(size) < 16:
        raise UsageError(f"--size: expected at least 16 pixels, received {size[0]}x{size[1]}")
    if args.count == 1:
        paths = [output_file(args.out, "scene.png")]
    else:
        folder = output_folder(args.out)
        paths = [os.path.join(folder, f"scene-{k + 1}.png") for k in range(args.count)]
    scenes = make_scenes(args.count, size=size, max_objects=args.objects, seed=args.seed)
    written = []
    for k, path in enumerate(paths):
        mpimg.imsave(path, np.clip(scenes.images[k], 0.0, 1.0))
        objects = [{"class": SHAPE_CLASSES[int(c)], "box_xyxy": [round(float(v), 1) for v in b]}
                   for b, c in zip(scenes.boxes[k], scenes.classes[k])]
        written.append({"path": path, "height": size[0], "width": size[1], "objects": objects})
    if args.json:
        print(json.dumps({"scenes": written}))
    else:
        for w in written:
            shapes = ", ".join(o["class"] for o in w["objects"])
            print(f"wrote {w['path']} ({w['width']}x{w['height']}, {plural(len(w['objects']), 'object')}: "
                  f"{shapes})")
        print(f"try: npvision detect {written[0]['path']}   (after 'npvision train yolo')")
    return 0


register_command(
    "sample-scene",
    help="write synthetic scenes of shapes (PNG) to try 'npvision detect' and 'npvision segment' on",
    description=("Draw scenes like the ones the built-in detectors and segmenters train on (circles, "
                 "squares, triangles and crosses on smooth backgrounds) and save them as PNG files; "
                 "the objects and their boxes are printed."),
    configure=_add_sample_scene_arguments,
    run=_run_sample_scene,
)


# -- val -----------------------------------------------------------------------
def _add_val_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", metavar="TASK", help="the task the weights were trained by (e.g. lenet5)")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="the folder 'npvision train TASK' wrote (default: the latest npvision-out/TASK run)")
    parser.add_argument("--json", action="store_true",
                        help="print the metrics as one JSON object on stdout's last line")


def _run_val(args: argparse.Namespace) -> int:
    import json
    import os

    from .tasks import VALIDATORS, validate_task

    task = _task_name(args.task)
    if task not in VALIDATORS:
        raise UsageError(f"task {task!r} cannot be re-scored yet; val knows {', '.join(sorted(VALIDATORS))}")
    folder = args.model if args.model is not None else latest_run_folder(f"npvision-out/{task}")
    if not os.path.isfile(os.path.join(folder, "metrics.json")):
        raise FileNotFoundError(_missing_model(folder, task, f"{task} model"))
    with json_stdout(args.json) as emit:
        metrics = validate_task(task, folder)
    if args.json:
        emit(json.dumps(metrics))
    else:
        headline = metrics["metric"]
        print(f"{task} ({folder}): held-out {headline} {metrics[headline]:.4f} on "
              f"{plural(metrics['n_test'], 'test sample')}")
    return 0


register_command(
    "val",
    help="re-score saved weights on the task's held-out data",
    description=("Load the weights that 'npvision train TASK --out DIR' saved in DIR and score them on "
                 "the same held-out test split the training run used; the metrics equal the ones "
                 "train reported for those weights."),
    configure=_add_val_arguments,
    run=_run_val,
)


# -- commands kept in their own modules (each registers itself on import) -----
from . import _cli_assignment, _cli_face, _cli_style  # noqa: E402,F401


# -- the parser ----------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per registered command."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="npvision",
        description="npvision: convolutional computer vision from first principles, in NumPy.",
        epilog=("Run 'npvision COMMAND --help' for a command's options, e.g. "
                "'npvision demo --help'."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"npvision {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.description or cmd.help)
        cmd.configure(p)
        p.set_defaults(_command=cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command, return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd: Command | None = getattr(args, "_command", None)
    if cmd is None:
        parser.print_help()
        return 2
    try:
        code = cmd.run(args)
    except UsageError as exc:                  # a wrong argument value: exit 2, as argparse's own errors
        print(f"npvision {cmd.name}: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as exc:
        print(f"npvision {cmd.name}: error: {exc}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
