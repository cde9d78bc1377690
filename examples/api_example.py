"""The Python API end to end: load data, fit, inspect the front, compile a kernel.

    python examples/api_example.py

Finds Kepler's third law T = sqrt(a**3 / M) in ``examples/data/kepler.h5`` (one 1-D
dataset per column; the target is T), then turns the chosen formula into a native
kernel with ``codegen`` and checks it against the data.
"""

from pathlib import Path

import numpy as np

import codegen
from discover import Regressor, load_dataset

DATA = Path(__file__).resolve().parent / "data" / "kepler.h5"


def main() -> None:
    data = load_dataset(DATA, target="T")
    model = Regressor(
        binary_operators=("+", "-", "*", "/"),
        unary_operators=("sqrt", "square", "cube"),
        maxsize=12,
        timeout_in_seconds=60,
        random_state=0,
    )
    model.fit(data.X, data.y, variable_names=data.feature_names)
    print(model.equations_)                       # the Pareto front (pandas DataFrame, PySR columns)
    formula = model.sympy()                       # a SymPy expression
    print("selected:", formula, "  R^2 =", model.score(data.X, data.y))

    kernel = codegen.compile(formula, data.feature_names)          # vectorised native code
    T = kernel(*[np.ascontiguousarray(data.X[:, i]) for i in range(data.n_features)])
    print("kernel max abs error vs data:", float(np.max(np.abs(T - data.y))))


if __name__ == "__main__":
    main()
