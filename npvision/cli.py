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

__all__ = ["Command", "COMMANDS", "register_command", "build_parser", "main"]


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

    result = tour.run(out_dir=args.out, seed=args.seed, quick=args.quick)
    # A failed gradient check is worth a non-zero exit code (e.g. in CI).
    return 0 if result.get("gradcheck_passed", True) else 1


register_command(
    "demo",
    help="a guided tour: build a ConvNet, run forward and backward, gradient-check, draw pictures",
    description=(
        "Build a small ConvNet from npvision.nn layers and train it for a few steps on the "
        "built-in handwritten digits (forward, softmax cross-entropy, backward, SGD), "
        "gradient-check a Conv2D layer and a max-pool in float64 and print the relative "
        "errors, then save pictures into DIR: the first conv layer's filters and feature "
        "maps, and classic edge filters (vertical, horizontal, Sobel, Scharr) applied to a "
        "photograph shipped with npvision."),
    configure=_add_demo_arguments,
    run=_run_demo,
)


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
    except (ValueError, TypeError, OSError) as exc:
        print(f"npvision {cmd.name}: error: {exc}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
