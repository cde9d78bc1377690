"""Generate the example data files in ``examples/data/`` (deterministic; no noise).

* ``quadratic_cosine.h5`` -- y = 2.5*x0**2 + cos(x1), x0 and x1 uniform in [-3, 3],
  500 rows, seed 0.  HDF5 layout (a): a 2-D dataset ``X`` (500, 2) with the attribute
  ``feature_names = ["x0", "x1"]`` and a 1-D dataset ``y`` (500,).
* ``quadratic_cosine.csv`` -- the same rows as CSV (header ``x0,x1,y``, values written
  with 17 significant digits, so they read back bit for bit).
* ``kepler.h5`` -- Kepler's third law T = sqrt(a**3 / M): semi-major axis ``a`` in AU
  uniform in [0.3, 30], star mass ``M`` in solar masses uniform in [0.5, 2], period ``T``
  in years; 300 rows, seed 1.  HDF5 layout (b): one 1-D dataset per column, in the order
  a, M, T (creation order is tracked), target ``T`` (pass ``--target T``).

Run ``python examples/make_example.py``; files are written atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np

from discover.atomic import write_bytes_atomic, write_text_atomic

DATA = Path(__file__).resolve().parent / "data"


def quadratic_cosine() -> tuple[np.ndarray, np.ndarray]:
    """X (500, 2) uniform in [-3, 3] and y = 2.5*x0**2 + cos(x1) (500,)."""
    X = np.random.default_rng(0).uniform(-3.0, 3.0, size=(500, 2))
    y = 2.5 * X[:, 0] ** 2 + np.cos(X[:, 1])
    return X, y


def kepler() -> dict[str, np.ndarray]:
    """Columns a (AU), M (solar masses) and T = sqrt(a**3 / M) (years), 300 rows each."""
    rng = np.random.default_rng(1)
    a = rng.uniform(0.3, 30.0, size=300)
    M = rng.uniform(0.5, 2.0, size=300)
    return {"a": a, "M": M, "T": np.sqrt(a**3 / M)}


def hdf5_bytes(fill) -> bytes:
    """The bytes of an HDF5 file built in memory by ``fill(h5py.File)``."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w", track_order=True) as handle:
        fill(handle)
    return buffer.getvalue()


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    X, y = quadratic_cosine()

    def fill_layout_a(handle):
        handle["X"] = X
        handle["X"].attrs["feature_names"] = ["x0", "x1"]
        handle["y"] = y

    write_bytes_atomic(DATA / "quadratic_cosine.h5", hdf5_bytes(fill_layout_a))
    lines = ["x0,x1,y"] + [",".join(f"{v:.17g}" for v in row) for row in np.column_stack([X, y])]
    write_text_atomic(DATA / "quadratic_cosine.csv", "\n".join(lines) + "\n")

    def fill_layout_b(handle):
        for name, column in kepler().items():
            handle[name] = column

    write_bytes_atomic(DATA / "kepler.h5", hdf5_bytes(fill_layout_b))
    for name in ("quadratic_cosine.h5", "quadratic_cosine.csv", "kepler.h5"):
        print(f"wrote {DATA / name}")


if __name__ == "__main__":
    main()
