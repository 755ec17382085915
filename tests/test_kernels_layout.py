"""The kernels folder a student can read: imports run one way, the naive references are plain
loops in files of their own, and the functional ops name them."""

import ast
import inspect
import pathlib

import pytest

import npvision.functional as F

KERNELS = pathlib.Path(__file__).resolve().parent.parent / "npvision" / "kernels"


def _imports(path: pathlib.Path) -> list[str]:
    """Every module an import statement of ``path`` names, relative ones as written (``..x``)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


@pytest.mark.parametrize("path", sorted(KERNELS.rglob("*.py")), ids=lambda p: str(p.relative_to(KERNELS)))
def test_kernels_import_nothing_above_them(path):
    """A kernel imports NumPy, numba (lazily), the standard library, its own package and
    ``npvision._padding``: never functional, nn or anything else built on top of it."""
    depth = len(path.relative_to(KERNELS).parts)                 # 1: kernels/x.py, 2: kernels/reference/x.py
    for name in _imports(path):
        if name.startswith("."):
            level = len(name) - len(name.lstrip("."))
            above = level - depth                                # how far above npvision/kernels it reaches
            if above >= 1:
                target = name.lstrip(".")
                assert above == 1 and target == "_padding", f"{path.name} imports {name!r}"
        else:
            assert not name.startswith("npvision"), f"{path.name} imports {name!r}"


@pytest.mark.parametrize("path", sorted((KERNELS / "reference").glob("[!_]*.py")), ids=lambda p: p.name)
def test_references_are_plain_loops(path):
    """A reference file imports only NumPy, registers nothing and starts no thread."""
    assert set(_imports(path)) <= {"__future__", "numpy"}, _imports(path)
    text = path.read_text()
    for word in ("register(", "run_on_threads", "njit", "@"):
        assert word not in text, f"{path.name} uses {word!r}"
    for node in ast.walk(ast.parse(text)):                     # no bias rider, no padding to apply
        if isinstance(node, ast.FunctionDef):
            args = {a.arg for a in node.args.args}
            assert not args & {"b", "bias", "pads", "padding"}, (path.name, node.name, args)


@pytest.mark.parametrize("op, reference", [
    (F.conv2d_forward, "npvision.kernels.reference.conv2d.conv2d_forward"),
    (F.conv2d_backward, "npvision.kernels.reference.conv2d.conv2d_forward"),
    (F.conv_transpose2d_forward, "npvision.kernels.reference.conv_transpose2d.conv_transpose2d_forward"),
    (F.depthwise_conv2d_forward, "npvision.kernels.reference.depthwise_conv2d.depthwise_conv2d_forward"),
    (F.max_pool2d_forward, "npvision.kernels.reference.pool2d.max_pool2d_forward"),
    (F.avg_pool2d_forward, "npvision.kernels.reference.pool2d.max_pool2d_forward"),
])
def test_functional_ops_name_their_reference(op, reference):
    """One hop for a student: the functional op's module docstring names the loops that define it."""
    doc = inspect.getmodule(op).__doc__
    assert reference in doc, (op.__name__, reference)
    module, func = reference.rsplit(".", 1)
    assert callable(getattr(__import__(module, fromlist=[func]), func))
