"""``npvision assignment``: release and grade notebooks marked with nbgrader's cells (see :mod:`npvision.grading`)."""

from __future__ import annotations

import argparse
import sys

from .cli import register_command


# -- assignment ----------------------------------------------------------------
def _add_assignment_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", title="actions")
    actions.required = True
    actions.add_parser("list", help="list the assignments shipped with npvision",
                       description="List the assignments shipped with npvision (names usable as SOURCE).")
    rel = actions.add_parser("release", help="write the students' version of a source notebook",
                             description=("Write the students' version of SOURCE into DIR: every '### BEGIN "
                                          "SOLUTION' ... '### END SOLUTION' block becomes '# YOUR CODE HERE' / "
                                          "'raise NotImplementedError()', hidden tests ('### BEGIN HIDDEN TESTS' "
                                          "... '### END HIDDEN TESTS') are removed, outputs are cleared."))
    rel.add_argument("source", metavar="SOURCE", help="a source notebook, or the name of a shipped assignment")
    rel.add_argument("--out", required=True, metavar="DIR", help="folder for the released notebook")
    grd = actions.add_parser("grade", help="run a submission with the hidden tests and score it",
                             description=("Run SUBMISSION top to bottom in a fresh kernel, with the source's "
                                          "graded and locked cells put back (hidden tests included), and report "
                                          "the points of each graded cell and its feedback."))
    grd.add_argument("submission", metavar="SUBMISSION", help="the student's notebook")
    grd.add_argument("--source", required=True, metavar="SOURCE",
                     help="the instructor's notebook, or the name of a shipped assignment")
    grd.add_argument("--timeout", type=float, default=60.0, metavar="S",
                     help="seconds allowed per cell (default: %(default)s)")
    grd.add_argument("--kernel", default=None, metavar="NAME",
                     help="an installed Jupyter kernel to run it in (default: this Python, with this npvision)")
    grd.add_argument("--json", action="store_true", help="print the report as one JSON object")


def _run_assignment(args: argparse.Namespace) -> int:
    import json

    from .grading import notebooks

    if args.action == "list":
        for name, path in notebooks.shipped_assignments().items():
            tests = notebooks.graded_cells(notebooks.read_notebook(path))
            print(f"{name:<28s} {len(tests)} exercises, {sum(t.points for t in tests):g} points  ({path})")
        return 0
    if args.action == "release":
        print(f"wrote {notebooks.release(args.source, args.out)}")
        return 0
    if args.timeout <= 0:
        raise ValueError(f"--timeout: expected a positive number of seconds, received {args.timeout}")
    try:
        report = notebooks.grade(args.submission, args.source, timeout=args.timeout, kernel_name=args.kernel)
    except notebooks.MissingDependencyError as exc:
        print(f"npvision assignment: error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report) if args.json else notebooks.format_report(report))
    return 0


register_command(
    "assignment",
    help="release and grade assignment notebooks (nbgrader's markers)",
    description=("Release and grade notebooks whose solutions and hidden tests carry nbgrader's markers: "
                 "'list' the assignments shipped with npvision, 'release' a source notebook as the students' "
                 "version, 'grade' a submission against its source."),
    configure=_add_assignment_arguments,
    run=_run_assignment,
)
