"""The ``npvision style`` and ``npvision texture`` commands (their arguments live in npvision/cli.py).

Each writes into ``--out DIR``:

* ``result.png``: the generated image;
* ``strip.png``: the image as the optimization went (content and style first);
* ``costs.png``: the content, style and variation costs per step;
* ``result.json``: the settings, the final costs, the costs per step and the seconds.

With ``--json`` the last line printed is one JSON object with ``"image"`` (the
result's path), ``"content_cost"``, ``"style_cost"``, ``"tv_cost"``,
``"total_cost"``, the style cost at the start, ``"seconds"`` and the other files.
CONTENT and STYLE are image files or the names of the shipped images
(``npvision.data.list_images()``); ``--demo`` picks shipped ones.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

__all__ = ["run_style", "run_texture", "save_image", "load_input_image", "DEMO_STYLE", "DEMO_TEXTURE"]

#: what ``--demo`` uses: (content, style) for style transfer, the texture for synthesis
DEMO_STYLE = ("chelsea", "gravel")
DEMO_TEXTURE = "gravel"


def save_image(path, image) -> str:
    """Write an (H, W, 3) or grey (H, W) / (H, W, 1) image in [0, 1] as a PNG; returns the path."""
    import matplotlib.image as mpimg

    img = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if img.ndim == 2:
        mpimg.imsave(path, img, cmap="gray", vmin=0.0, vmax=1.0)
    else:
        mpimg.imsave(path, img)
    return os.fspath(path)


def load_input_image(spec: str, what: str, channels: int | None = 3) -> np.ndarray:
    """An image file, or a shipped image's name, as float32 in [0, 1]: (H, W, 3), or as stored with None."""
    from ..data import list_images, load_image, read_image

    if os.path.exists(spec):
        return read_image(spec, channels=channels)
    if spec in list_images():
        img = load_image(spec)
        if channels == 3 and img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)              # (H, W) -> (H, W, 3)
        return img
    raise ValueError(f"{what}: {spec!r} is neither an image file nor a shipped image "
                     f"({', '.join(list_images())})")


def _positive(value, flag: str) -> int:
    if value is None or value < 1:
        raise ValueError(f"{flag}: expected an integer >= 1, received {value}")
    return int(value)


def _common(args) -> dict:
    if args.network == "random" and args.weights:
        raise ValueError("--weights: only --network vgg19 loads a weights file")
    if args.pooling != "max" and args.network != "vgg19":
        raise ValueError("--pooling: only --network vgg19 has pooling layers")
    for flag, v in (("--beta", args.beta), ("--tv", args.tv), ("--lr", args.lr)):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{flag}: expected a number >= 0, received {v}")
    return dict(network=args.network, weights=args.weights or None, tv=args.tv,
                optimizer=args.optimizer, steps=_positive(args.steps, "--steps"), lr=args.lr,
                size=_positive(args.size, "--size"), levels=_positive(args.levels, "--levels"),
                seed=args.seed, progress=not args.json)


def _layers(text):
    return None if not text else [t.strip() for t in text.split(",") if t.strip()]


def _write_outputs(result, out: str, content, style, kind: str, as_json: bool) -> dict:
    from ..viz.style import plot_style_costs, plot_style_strip

    os.makedirs(out, exist_ok=True)
    image = save_image(os.path.join(out, "result.png"), result.image)
    strip = os.path.join(out, "strip.png")
    plot_style_strip(result, strip, content=content, style=style,
                     title=f"{kind}: {result.settings['optimizer']}, {result.settings['steps']} steps")
    costs = os.path.join(out, "costs.png")
    plot_style_costs(result, costs, title=f"{kind} costs")
    final = result.final_costs()
    summary = {"kind": kind, "image": image, "strip": strip, "costs_plot": costs,
               "content_cost": final["content"], "style_cost": final["style"], "tv_cost": final["tv"],
               "total_cost": final["total"], "style_cost_start": result.costs["style"][0],
               "seconds": round(result.seconds, 3), "size": result.settings["size"],
               "steps": result.settings["steps"], "optimizer": result.settings["optimizer"],
               "network": result.settings["network"]}
    record = dict(summary, settings=result.settings, costs=result.costs, steps_at=result.steps_at)
    with open(os.path.join(out, "result.json"), "w") as fh:
        json.dump(record, fh, indent=1, default=str)
    if as_json:
        print(json.dumps(summary, default=str))
    else:
        print(f"{kind}: style cost {summary['style_cost_start']:.4g} -> {final['style']:.4g}"
              + (f", content cost {final['content']:.4g}" if kind == "style" else "")
              + f" in {result.seconds:.1f} s; wrote {image}, {strip}, {costs}", file=sys.stdout)
    return summary


def run_style(args) -> int:
    from .transfer import style_transfer

    if args.demo:
        args.content = args.content or DEMO_STYLE[0]
        args.style = args.style or DEMO_STYLE[1]
        args.preserve_colour = True if args.style == DEMO_STYLE[1] else args.preserve_colour
    if not args.content or not args.style:
        raise ValueError("CONTENT and STYLE: give two images (files or shipped names), or --demo")
    options = _common(args)
    for flag, v in (("--alpha", args.alpha),):
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"{flag}: expected a number >= 0, received {v}")
    content = load_input_image(args.content, "CONTENT")
    style = load_input_image(args.style, "STYLE")
    result = style_transfer(content, style, alpha=args.alpha, beta=args.beta,
                            preserve_colour=args.preserve_colour, pooling=args.pooling,
                            content_layers=_layers(args.content_layers),
                            style_layers=_layers(args.style_layers), **options)
    _write_outputs(result, args.out, content, style, "style", args.json)
    return 0


def run_texture(args) -> int:
    from .transfer import texture_synthesis

    if args.demo:
        args.style = args.style or DEMO_TEXTURE
    if not args.style:
        raise ValueError("STYLE: give a texture image (a file or a shipped name), or --demo")
    options = _common(args)
    style = load_input_image(args.style, "STYLE", channels=None)
    if style.ndim == 3 and style.shape[2] in (2, 4):
        style = style[:, :, :-1]                                     # drop alpha
    if options["network"] == "vgg19" and (style.ndim == 2 or style.shape[2] == 1):
        style = np.repeat(style.reshape(style.shape[0], style.shape[1], 1), 3, axis=2)
    result = texture_synthesis(style, beta=args.beta, pooling=args.pooling,
                               style_layers=_layers(args.style_layers), **options)
    _write_outputs(result, args.out, None, style, "texture", args.json)
    return 0
