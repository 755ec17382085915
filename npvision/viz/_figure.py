"""The last step every figure function shares: title, then save if asked.

Private to :mod:`npvision.viz`; it imports nothing heavy, so the plotting
modules can use it without loading matplotlib early.
"""

from __future__ import annotations

import os

__all__: list[str] = []


def finish_figure(fig, path, title: str | None, dpi: int):
    """Set ``title`` as the figure's suptitle and save to ``path`` (creating its folder).

    ``path=None`` saves nothing. Returns ``fig`` so callers can end with
    ``return finish_figure(...)``.
    """
    if title:
        fig.suptitle(title)
    if path is not None:
        path = os.fspath(path)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig
