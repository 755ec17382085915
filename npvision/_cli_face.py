"""``npvision verify`` and ``npvision who``: face verification and recognition with a trained encoder (see :mod:`npvision.face`)."""

from __future__ import annotations

import argparse

from .cli import register_command


# -- verify / who (face verification and recognition) -------------------------
def _add_face_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="npvision-out/face", metavar="DIR",
                        help="a face encoder folder written by 'npvision train face --out DIR' "
                             "(default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=None, metavar="T",
                        help="accept when the L2 distance of the encodings is below T (default: the "
                             "threshold chosen by 10-fold cross-validation when the model was trained)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")


def _add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image1", metavar="IMAGE1", help="an image file (PNG or JPEG) of a face")
    parser.add_argument("image2", metavar="IMAGE2", help="another image file of a face")
    _add_face_model_arguments(parser)


def _face_model(args: argparse.Namespace):
    """(encoder, (H, W), channels, threshold) from --model and --threshold."""
    from .tasks.face import load_face_model

    encoder, extra = load_face_model(args.model)
    h, w, c = extra["input_shape"]
    threshold = extra["threshold"] if args.threshold is None else args.threshold
    if not threshold > 0:
        raise ValueError(f"--threshold: expected a distance > 0, received {threshold}")
    return encoder, (h, w), c, float(threshold)


def _face_image(path: str, size, channels: int):
    import os

    from .data import read_image
    from .data.augment import resize

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such image file")
    return resize(read_image(path, channels=channels), size).image


def _run_verify(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from .face import embed, l2_distance

    encoder, size, channels, threshold = _face_model(args)
    images = [_face_image(p, size, channels) for p in (args.image1, args.image2)]
    e = embed(encoder, np.stack(images))                            # (2, d)
    dist = float(l2_distance(e[0], e[1]))
    same = dist < threshold
    if args.json:
        print(json.dumps({"image1": args.image1, "image2": args.image2, "distance": round(dist, 6),
                          "threshold": threshold, "same_person": bool(same)}))
    else:
        verdict = "the same person" if same else "different people"
        print(f"distance {dist:.4f} ({'<' if same else '>='} threshold {threshold:.4f}): {verdict}")
    return 0


register_command(
    "verify",
    help="are two face images the same person? (a trained face encoder)",
    description=("Encode IMAGE1 and IMAGE2 (resized to the encoder's input) with the face encoder "
                 "trained by 'npvision train face', print the L2 distance of the two encodings and "
                 "the decision: the same person when the distance is below the threshold."),
    configure=_add_verify_arguments,
    run=_run_verify,
)


def _add_who_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="an image file (PNG or JPEG) of a face")
    parser.add_argument("--database", required=True, metavar="FOLDER",
                        help="a folder with one sub-folder of images per person (the sub-folder's "
                             "name is the person's), or an encodings file saved with --save-database")
    parser.add_argument("--save-database", default=None, metavar="FILE",
                        help="also save the database's encodings to FILE (.npz) for the next time")
    _add_face_model_arguments(parser)


def _run_who(args: argparse.Namespace) -> int:
    import json
    import os

    from .face import EncodingDatabase, who_is_it

    encoder, size, channels, threshold = _face_model(args)
    if os.path.isdir(args.database):
        database = EncodingDatabase.from_folder(args.database, encoder, size)
    elif os.path.isfile(args.database):
        database = EncodingDatabase.load(args.database, encoder)
    else:
        raise FileNotFoundError(f"--database: {args.database}: no such folder or encodings file")
    if args.save_database:
        database.save(args.save_database)
    image = _face_image(args.image, size, channels)
    dist, name = who_is_it(image, database, encoder, threshold=threshold)
    if args.json:
        print(json.dumps({"image": args.image, "identity": name, "distance": round(dist, 6),
                          "threshold": threshold, "people": len(database)}))
    elif name is None:
        print(f"not in the database (nearest distance {dist:.4f} >= threshold {threshold:.4f}, "
              f"{len(database)} people)")
    else:
        print(f"{name} (distance {dist:.4f} < threshold {threshold:.4f})")
    return 0


register_command(
    "who",
    help="who is on a face image? nearest person of a database folder, or 'not in the database'",
    description=("Encode IMAGE and every image of the database (a folder with one sub-folder per "
                 "person) with the face encoder trained by 'npvision train face', and name the "
                 "person whose encoding is nearest; when even the nearest is not below the threshold "
                 "the face is 'not in the database'."),
    configure=_add_who_arguments,
    run=_run_who,
)
