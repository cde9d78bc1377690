"""discover: find equations in data and turn them into fast native code.

``discover.Regressor`` is the Python entry point of the formula search; ``discover fit``
its command line.  See the README for a tour.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that `import discover` (and the CLI's start) does not import JAX.
    if name == "Regressor":
        from .regressor import Regressor

        return Regressor
    if name == "load_result":
        from .results import load_result

        return load_result
    if name in ("load_dataset", "Dataset"):
        from . import data

        return getattr(data, name)
    raise AttributeError(f"module 'discover' has no attribute {name!r}")


__all__ = ["Regressor", "load_dataset", "load_result", "Dataset", "__version__"]
