"""Search rate: candidate evaluations per second of a real search, per batch size.

    python benchmarks/search_rate.py [--seconds 20] [--batch-sizes 500 5000] [--populations 8]

Runs ``search.evolve.search`` for a fixed wall time on Feynman I.6.2 (a Gaussian,
``exp(-theta**2/(2 sigma**2)) / sqrt(2 pi sigma**2)``, 10,000 rows) with the default
settings except the row batch size (and, optionally, the population count), and reports
candidate evaluations per second, iterations and the best loss reached.  The same
command runs on whatever device JAX picks (``JAX_PLATFORMS=cpu`` forces the CPU), so
CPU and GPU rates can be compared on one machine.  Each timed run is preceded by a 5 s
search of the same shape, so XLA compilation is not counted (``--no-warmup`` counts it).
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import numpy as np
from rich.console import Console
from rich.table import Table

from search.evolve import SearchSettings, search


def gaussian_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Feynman I.6.2: ``X (rows, 2)`` = (sigma, theta) in [1, 3]^2, ``y (rows,)``."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(1.0, 3.0, (rows, 2))
    sigma, theta = X[:, 0], X[:, 1]
    y = np.exp(-theta**2 / (2 * sigma**2)) / np.sqrt(2 * np.pi * sigma**2)
    return X, y


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall time per run (default 20)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[500, 5000],
                        help="rows each candidate is scored on (default 500 5000)")
    parser.add_argument("--populations", type=int, nargs="+", default=[8],
                        help="island counts to try (default 8)")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false",
                        help="skip the 5 s search of each shape that fills the compile cache first")
    args = parser.parse_args(argv)

    X, y = gaussian_data(args.rows, args.seed)
    device = jax.devices()[0]
    table = Table(title=f"search rate on Feynman I.6.2, {args.seconds:g} s per run, device {device.platform}:{device.device_kind}")
    for col in ("rows", "islands", "iters", "evals", "evals/s", "best loss", "compiles"):
        table.add_column(col, justify="right")
    rates = []
    for populations in args.populations:
        for batch in args.batch_sizes:
            def run(seconds: float):
                settings = SearchSettings(batch_size=batch, populations=populations,
                                          timeout_in_seconds=seconds, random_state=args.seed)
                return search(X, y, settings)
            if args.warmup:
                run(5.0)
            t = time.perf_counter()
            result = run(args.seconds)
            wall = time.perf_counter() - t
            p = result.progress
            rates.append(p.evaluations_per_second)
            table.add_row(str(batch), str(populations), str(p.iteration), str(p.evaluations),
                          f"{p.evaluations_per_second:,.0f}", f"{p.best_loss:.3g}", str(result.compilations))
            print(f"batch {batch} islands {populations}: {wall:.1f} s wall", file=sys.stderr)
    Console().print(table)
    print(f"summary: device {device.platform}, search rate {min(rates):,.0f}-{max(rates):,.0f} evaluations/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
