"""Figures without a display: matplotlib's Agg renderer, PNG written atomically.

Figures are made with :class:`matplotlib.figure.Figure` directly (not ``pyplot``), so no
GUI backend is touched and nothing is kept in a global figure list.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from .atomic import write_bytes_atomic
from .errors import UserError

__all__ = ["new_figure", "save_png", "check_png_path"]


def new_figure(width: float, height: float):
    """An empty :class:`~matplotlib.figure.Figure` of ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def save_png(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Render ``fig`` as PNG into memory, then write it to ``path`` atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    write_bytes_atomic(path, buffer.getvalue())


def check_png_path(path: str | os.PathLike, flag: str) -> Path:
    """``path`` as a Path; UserError unless it is a .png file name in an existing directory."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a directory; give a .png file name")
    if path.suffix.lower() != ".png":
        raise UserError(f"{flag} {path}: the picture is a PNG; give a name ending in .png")
    if not path.parent.is_dir():
        raise UserError(f"{flag} {path}: the directory {path.parent} does not exist")
    return path


def locate_data(data: str | None, result_path: str | os.PathLike | None = None) -> tuple[Path | None, str | None]:
    """The data file a result names, as given or else beside the result file:
    ``(path, None)``, or ``(None, reason)`` when there is none."""
    if not data:
        return None, "the result names no data file"
    given = Path(data)
    candidates = [given]
    if result_path is not None and not given.is_absolute():
        candidates.append(Path(result_path).parent / given)
    path = next((p for p in candidates if p.is_file()), None)
    return (path, None) if path is not None else (None, f"the data file {data} was not found")
