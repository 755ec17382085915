"""``npvision style`` and ``npvision texture``: neural style transfer and texture synthesis (see :mod:`npvision.style`)."""

from __future__ import annotations

import argparse

from .cli import register_command


# -- style / texture -------------------------------------------------------------
def _add_image_synthesis_arguments(parser: argparse.ArgumentParser, kind: str) -> None:
    size, steps = (256, 150) if kind == "style" else (128, 150)
    parser.add_argument("--out", default=f"npvision-out/{kind}", metavar="DIR",
                        help="folder for result.png, strip.png, costs.png, result.json (default: %(default)s)")
    parser.add_argument("--demo", action="store_true", help="run on shipped images (no arguments needed)")
    parser.add_argument("--size", type=int, default=size, metavar="PX",
                        help="longer side of the result in pixels (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=steps, metavar="N",
                        help="optimization steps per resolution level (default: %(default)s)")
    if kind == "style":
        parser.add_argument("--alpha", type=float, default=10.0, help="content weight (default: %(default)s)")
    parser.add_argument("--beta", type=float, default=40.0 if kind == "style" else 1.0,
                        help="style weight (default: %(default)s)")
    parser.add_argument("--tv", type=float, default=0.0, help="total variation weight (default: %(default)s)")
    parser.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs",
                        help="L-BFGS as Gatys et al. or Adam as the course (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate (default: %(default)s)")
    parser.add_argument("--network", choices=("random", "vgg19"), default="random",
                        help="random multi-scale filters (offline) or VGG-19 (default: %(default)s)")
    parser.add_argument("--weights", default=None, metavar="FILE",
                        help="VGG-19 weights: a torchvision state_dict (.pth or .npz) or an npvision file")
    parser.add_argument("--pooling", choices=("max", "avg"), default="max",
                        help="VGG-19's pooling (Gatys et al. used avg; default: %(default)s)")
    parser.add_argument("--levels", type=int, default=1, metavar="N",
                        help="coarse-to-fine resolution levels, each half the next (default: %(default)s)")
    if kind == "style":
        parser.add_argument("--preserve-colour", "--preserve-color", dest="preserve_colour",
                            action="store_true", help="transfer the style to the luminance only")
        parser.add_argument("--content-layers", default=None, metavar="NAMES",
                            help="comma-separated content layers (default: the network's)")
    parser.add_argument("--style-layers", default=None, metavar="NAMES",
                        help="comma-separated style layers, equally weighted (default: the network's)")
    parser.add_argument("--pad", type=int, default=0, metavar="PX",
                        help="mirror the images by PX pixels before the network, so the border is "
                             "seen like the inside (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="no progress bar; print one JSON object (image path, costs, seconds) last")


def _add_style_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("content", nargs="?", metavar="CONTENT",
                        help="content image: a file or a shipped image's name (e.g. chelsea)")
    parser.add_argument("style", nargs="?", metavar="STYLE",
                        help="style image: a file or a shipped image's name (e.g. gravel)")
    _add_image_synthesis_arguments(parser, "style")


def _add_texture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("style", nargs="?", metavar="STYLE",
                        help="texture image: a file or a shipped image's name (e.g. gravel)")
    _add_image_synthesis_arguments(parser, "texture")


def _run_style(args: argparse.Namespace) -> int:
    from .style.commands import run_style

    return run_style(args)


def _run_texture(args: argparse.Namespace) -> int:
    from .style.commands import run_texture

    return run_texture(args)


register_command(
    "style",
    help="neural style transfer: paint CONTENT in the style of STYLE",
    description=("Optimize the pixels of an image so that its features match CONTENT's and its "
                 "Gram matrices match STYLE's (Gatys et al.), with the random multi-scale network "
                 "(offline) or VGG-19 (--network vgg19 --weights FILE). Writes the result, a strip "
                 "of intermediate images and the cost curves into DIR."),
    configure=_add_style_arguments,
    run=_run_style,
)

register_command(
    "texture",
    help="texture synthesis: a new image with the texture of STYLE, from noise",
    description=("Optimize noise until its Gram matrices match STYLE's (Gatys et al. 2015; by "
                 "default with random multi-scale filters, Ustyuzhaninov et al. 2017). Writes the "
                 "result, a strip of intermediate images and the cost curves into DIR."),
    configure=_add_texture_arguments,
    run=_run_texture,
)
