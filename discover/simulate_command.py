"""``discover simulate``: make PDE data with the project's pseudo-spectral simulators.

    discover simulate --list
    discover simulate CASE -o out.h5 [--noise L] [--snapshots N] [--sensors M] [--seed S]
    discover simulate custom --rhs "u_t = -u*u_x + 0.1*u_xx" --domain=-8,8 --points 256 \\
                             --t-end 10 --snapshots 101 --ic "exp(-(x+2)**2)" -o out.h5 [--dt DT]

A named case is one of the PDE benchmarks (:data:`discover.pde.simulate.CASES`);
``--snapshots`` and ``--sensors`` subsample it (evenly spaced times; every (n/M)-th grid
point per axis), then ``--noise`` adds Gaussian noise of std L * RMS(field) per field.
``custom`` simulates any periodic right-hand side in 1-D or 2-D (give ``--rhs`` once per
field for a system, ``--domain`` as low,high per axis, ``--ic`` as ``u=...`` per field).
The output (HDF5, or NPZ for a .npz path) is written atomically; see
:func:`discover.pde.simulate.write_h5` for its layout.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:
    from rich.table import Table

# The simulators (NumPy, SymPy) and rich are imported where a run needs them:
# `discover simulate --help` and a usage error answer without loading them.

CUSTOM = "custom"
_SUFFIXES = (".h5", ".hdf5", ".npz")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "simulate",
        help="make PDE data: a benchmark case (burgers, kdv, ks, ...) or any periodic u_t = ... ",
        description="Simulate a periodic PDE with a pseudo-spectral ETDRK4 solver (float64) and write "
                    "the fields u(t, x[, y]) to HDF5 or NPZ. CASE is a benchmark case (see --list) or "
                    "'custom' with --rhs, --domain, --points, --t-end and --ic.",
    )
    parser.add_argument("case", nargs="?", metavar="CASE", help="case name (see --list), or 'custom'")
    parser.add_argument("--list", action="store_true", help="list the cases and their equations, then exit")
    parser.add_argument("--output", "-o", metavar="PATH",
                        help="output file (.h5, .hdf5 or .npz; required, except with --list); an existing file "
                             "is replaced, atomically")
    parser.add_argument("--noise", type=float, default=0.0, metavar="L",
                        help="Gaussian noise, std = L * RMS(field) (default 0)")
    parser.add_argument("--snapshots", type=int, metavar="N",
                        help="a case: keep N evenly spaced snapshots; custom: number of snapshots (default 101)")
    parser.add_argument("--sensors", type=int, metavar="M",
                        help="keep M evenly spaced grid points per axis (M must divide the grid size)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="noise seed (default 0)")
    custom = parser.add_argument_group("custom right-hand side")
    custom.add_argument("--rhs", action="append", metavar="'u_t = ...'",
                        help="right-hand side, e.g. 'u_t = -u*u_x + 0.1*u_xx' (derivatives u_x, u_xx, u_yy, ...); "
                             "once per field for a system")
    custom.add_argument("--domain", action="append", metavar="LOW,HIGH",
                        help="periodic interval per axis, e.g. --domain=-8,8 (write '=' before a negative "
                             "number); twice, or LOW,HIGH,LOW,HIGH, for 2-D")
    custom.add_argument("--points", metavar="N[,N]", help="grid points per axis (even), e.g. 256 or 128,128")
    custom.add_argument("--t-end", type=float, metavar="T", help="simulate t in [0, T]")
    custom.add_argument("--ic", action="append", metavar="EXPR",
                        help="initial condition in x[, y], e.g. 'exp(-(x+2)**2)'; 'u = ...' per field for a system")
    custom.add_argument("--dt", type=float, metavar="DT",
                        help="internal time step (default: chosen by step halving over the first snapshot interval)")
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    from rich.console import Console
    from rich.markup import escape

    from .pde import simulate as sim

    if args.list:
        Console().print(case_table(sim.CASES))
        return 0
    if not args.case:
        raise UserError(f"give a case ({', '.join(sim.CASES)}, or {CUSTOM}) or --list")
    if args.case == CUSTOM:
        case = _custom_case(args, sim)
        snapshots = None
    else:
        _refuse_custom_options(args)
        case = sim.get_case(args.case)
        snapshots = args.snapshots
    sim.check_options(case, noise=args.noise, snapshots=snapshots, sensors=args.sensors, seed=args.seed)
    output = _output_path(args.output)

    started = time.perf_counter()
    with Console(stderr=True).status(escape(f"simulating {case.name}: {case.equation}")):
        data = sim.simulate(case, noise=args.noise, snapshots=snapshots, sensors=args.sensors, seed=args.seed)
        sim.write(output, data)
    seconds = time.perf_counter() - started
    Console().print(_summary(case, data, output, seconds), markup=False, highlight=False, soft_wrap=True)
    return 0


def case_table(cases) -> Table:
    """The registered cases as a rich table."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="PDE cases (discover simulate CASE -o out.h5)", title_justify="left")
    table.add_column("case")
    table.add_column("equation", overflow="fold")
    table.add_column("grid")
    table.add_column("t", justify="right")
    table.add_column("snapshots", justify="right")
    for case in cases.values():
        grid = " x ".join(f"[{_number(lo)}, {_number(hi)}) {n}" for lo, hi, n in case.domain)
        table.add_row(escape(case.name), escape(case.equation), grid, f"[0, {case.t_end:g}]", str(case.n_snapshots))
    return table


def _number(value: float) -> str:
    """A bound for humans: 32π rather than 100.531 when it is a multiple of π."""
    multiple = value / math.pi
    if value and abs(multiple - round(multiple)) < 1e-12:
        return f"{round(multiple)}π" if round(multiple) != 1 else "π"
    return f"{value:g}"


def _summary(case, data, output: Path, seconds: float) -> str:
    shape = data[case.fields[0]].shape
    t = data["t"]
    return (f"{case.name}: {', '.join(case.fields)} {shape} float64, t in [{t[0]:g}, {t[-1]:g}], "
            f"noise {data['noise']:g}, seed {data['seed']}, written to {output} ({seconds:.1f} s)")


def _refuse_custom_options(args) -> None:
    given = [flag for flag, value in (("--rhs", args.rhs), ("--domain", args.domain), ("--points", args.points),
                                      ("--t-end", args.t_end), ("--ic", args.ic), ("--dt", args.dt))
             if value is not None]
    if given:
        verb = "goes" if len(given) == 1 else "go"
        raise UserError(f"{', '.join(given)} only {verb} with '{CUSTOM}', not with the case '{args.case}'")


def _output_path(value: str | None) -> Path:
    if not value:
        raise UserError("give the output file with -o PATH (.h5 or .npz)")
    path = Path(value)
    if path.is_dir():
        raise UserError(f"-o {path} is a directory; give a file name such as {path / 'data.h5'}")
    if path.suffix.lower() not in _SUFFIXES:
        raise UserError(f"-o {path}: use a .h5, .hdf5 or .npz file name")
    if not path.parent.exists():
        raise UserError(f"-o {path}: the directory {path.parent} does not exist")
    return path


# --------------------------------------------------------------------------- custom


def _custom_case(args, sim):
    missing = [flag for flag, value in (("--rhs", args.rhs), ("--domain", args.domain), ("--points", args.points),
                                        ("--t-end", args.t_end), ("--ic", args.ic)) if value is None]
    if missing:
        raise UserError(f"'{CUSTOM}' needs {', '.join(missing)}")
    rhs = dict(_parse_rhs(text) for text in args.rhs)
    if len(rhs) != len(args.rhs):
        raise UserError("--rhs: one right-hand side per field")
    domain = _parse_domain(args.domain)
    points = _parse_points(args.points, len(domain))
    initial = _parse_initial(args.ic, list(rhs))
    if not (math.isfinite(args.t_end) and args.t_end > 0):
        raise UserError(f"--t-end must be positive, not {args.t_end:g}")
    if args.dt is not None and not (math.isfinite(args.dt) and args.dt > 0):
        raise UserError(f"--dt must be positive, not {args.dt:g}")
    snapshots = 101 if args.snapshots is None else args.snapshots
    if snapshots < 2:
        raise UserError(f"--snapshots must be at least 2, not {snapshots}")
    case = sim.custom_case(rhs, domain, points, args.t_end, snapshots, initial, args.dt)
    sim.validate(case)
    sim.build_problem(case.rhs, case.domain)  # parse errors now, before the spinner starts
    for note in sim.periodicity_notes(case, sim.initial_values(case)):
        print(f"note: {note}", file=sys.stderr)
    return case


_LHS = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)_t\s*=(?!=)(.*)$", re.S)
_NAMED = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)\s*=(?!=)(.*)$", re.S)


def _parse_rhs(text: str) -> tuple[str, str]:
    """'u_t = expr' -> ("u", "expr"); a bare 'expr' is the right-hand side of u."""
    match = _LHS.match(text)
    if match:
        return match.group(1), match.group(2).strip()
    if "=" in text.replace("==", "").replace("<=", "").replace(">=", "").replace("!=", "") or \
            re.match(r"^\s*[A-Za-z][A-Za-z0-9]*_t\s*==", text):
        raise UserError(f"--rhs '{text}': write it as 'u_t = ...' (the field name, then _t, then one '=')")
    return "u", text.strip()


def _parse_initial(texts: list[str], fields: list[str]) -> dict[str, str]:
    """'u = expr' per field, or one bare expression for a single field."""
    initial = {}
    for text in texts:
        match = _NAMED.match(text)
        if match:
            initial[match.group(1)] = match.group(2).strip()
        elif len(fields) == 1 and len(texts) == 1:
            initial[fields[0]] = text.strip()
        elif len(fields) == 1:
            raise UserError(f"--ic is given {len(texts)} times for the one field {fields[0]}; give it once")
        else:
            raise UserError(f"--ic '{text}': with several fields write 'u = ...' for each")
    unknown = [f for f in initial if f not in fields]
    if unknown:
        raise UserError(f"--ic for {', '.join(unknown)}, which has no --rhs (fields: {', '.join(fields)})")
    missing = [f for f in fields if f not in initial]
    if missing:
        raise UserError(f"no --ic for {', '.join(missing)}")
    return initial


def _numbers(text: str, flag: str, kind=float) -> list:
    try:
        return [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"{flag} '{text}': expected comma-separated numbers") from None


def _parse_domain(values: list[str]) -> list[tuple[float, float]]:
    numbers = [v for text in values for v in _numbers(text, "--domain")]
    if len(numbers) not in (2, 4):
        raise UserError(f"--domain: give LOW,HIGH for x (and again for y in 2-D), not {len(numbers)} numbers")
    pairs = [tuple(numbers[i:i + 2]) for i in range(0, len(numbers), 2)]
    for axis, (lo, hi) in zip("xy", pairs):
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise UserError(f"--domain for {axis}: need LOW < HIGH, not {lo:g},{hi:g}")
    return pairs


def _parse_points(text: str, ndim: int) -> list[int]:
    points = _numbers(text, "--points", int)
    if len(points) == 1:
        points = points * ndim
    if len(points) != ndim:
        raise UserError(f"--points: one number, or one per axis ({ndim}), not {len(points)}")
    return points
