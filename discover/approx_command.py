"""``discover approx``: a cheap straight-line program for a function, verified in ULPs.

    discover approx exp --dtype float32 --max-ulp 1 [--domain a,b] [--cost ops|time]
                        [--time-limit S] [--emit c|llvm|object] [-o exp32.json]

Computes the baselines (Taylor, Chebyshev, minimax, fpminimax-style, rational; Horner
and Estrin), searches programs of lower cost, prints the front beside the baselines,
picks the cheapest program within ``--max-ulp``, verifies it (float32: every input of
the domain, as the compiled kernel; float64: a stated random sample) and writes the
JSON result (:mod:`discover.approx.result`) and, with ``--emit``, the code beside it.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import write_bytes_atomic, write_text_atomic
from .cluster_options import add_cluster_arguments, cluster_from_args, using_cluster
from .errors import UserError, check_seconds
from .figures import check_png_path
from .result import result_path

if TYPE_CHECKING:
    from rich.table import Table

# The approximation job's modules (SymPy, mpmath, JAX, LLVM) and rich are imported where a run
# needs them: `discover approx --help` and a usage error answer without loading them.

EMITS = ("c", "llvm", "object")


def add_parser(subparsers) -> argparse.ArgumentParser:
    from .approx.names import TEMPLATES

    parser = subparsers.add_parser(
        "approx",
        help="find a cheap, verified approximation of exp, log, sin, erf, ... as native code",
        description="Search straight-line programs (add, sub, mul, fma; --division adds div) that "
                    "approximate a function in float32/float64 within a ULP goal, cheaper than the "
                    "textbook polynomials, scored bit-exactly in the target precision. Named "
                    f"functions: {', '.join(TEMPLATES)}; or any SymPy expression of x (on --domain, default "
                    f"[0, 1]). {', '.join(name for name, template in TEMPLATES.items() if template)} cover their "
                    "whole domain "
                    "through range reduction (erf in float32; sin and cos [-pi, pi], or with --domain up to "
                    "|x| <= 1e5 in float32, 2**20 in float64).",
    )
    parser.add_argument("function", help="a named function or a SymPy expression of x, e.g. 'exp(-x**2/2)'")
    parser.add_argument("--dtype", default="float32", metavar="T",
                        help="float32 (default), float64, or real (the real-number task: max relative "
                             "error over the reals, operations + - * / as in AutoNumerics-Zero)")
    parser.add_argument("--max-ulp", type=float, default=1.0, metavar="U",
                        help="error goal in ULPs, at least 0.5 (default 1); --dtype real has no ULPs: it keeps "
                             "the most accurate program")
    parser.add_argument("--domain", default=None, metavar="A,B",
                        help="input interval (default: the function's, e.g. every finite input for exp)")
    parser.add_argument("--cost", choices=("ops", "time"), default="ops",
                        help="cost model: operation count (default) or the measured time per element "
                             "of each front member's compiled kernel")
    parser.add_argument("--time-limit", type=float, default=60.0, metavar="S",
                        help="seconds of search (default 60). The baselines come before it (a first run of a "
                             "target and precision: float32 about 4 s, float64 12-22 s; cached for later runs) and "
                             "the verification of the pick after it: float32 checks every input of the domain "
                             "(4.3e9 for exp: 20-30 s on 2 cores, shown as it goes), float64 a sample against "
                             "mpmath; --no-verify skips it")
    parser.add_argument("--max-evaluations", type=int, default=None, metavar="N",
                        help="stop after N candidates instead of on the clock (reproducible for a seed)")
    parser.add_argument("--division", action="store_true", help="allow division in programs")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    parser.add_argument("--emit", choices=EMITS, action="append", default=[],
                        help="also write the selected program as C (.c and .h), LLVM IR (.ll) or an "
                             "object file (.o and .h) beside the result (repeatable)")
    add_cluster_arguments(parser, "the float32 verification (in shards)")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip the exhaustive (float32) / sampled (float64) verification")
    parser.add_argument("--plot", metavar="PNG", default=None,
                        help="also draw the front beside the baselines and the error over the inputs (PNG)")
    parser.add_argument("--output", "-o", metavar="PATH",
                        help="result JSON (default: <function>.<dtype>.approx.json in the current directory)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    parser.set_defaults(run=run)
    return parser


def _settings(args):
    from .approx.job import ApproxSettings
    from .approx.targets import parse_domain

    check_seconds(args.time_limit, "--time-limit")
    if args.max_evaluations is not None and args.max_evaluations < 1:
        raise UserError("--max-evaluations must be at least 1")
    domain = parse_domain(args.domain, (0.0, 1.0)) if args.domain is not None else None
    return ApproxSettings(dtype=args.dtype, max_ulp=args.max_ulp, domain=domain, time_limit=args.time_limit,
                          max_evaluations=args.max_evaluations, division=args.division, seed=args.seed)


def _fmt(err: float, unit: str) -> str:
    if not math.isfinite(err):
        return "inf"
    return f"{err:.3g}" if unit == "relative" else f"{err:.3f}"


def front_table(run, unit: str, selected: int | None, times: dict | None = None) -> Table:
    from rich.table import Table

    table = Table(title=f"{run.task.target.name} ({run.task.settings.dtype}): programs found beside the baselines",
                  title_justify="left")
    table.add_column("program")
    table.add_column("ops", justify="right")
    table.add_column("main path", justify="right")
    table.add_column(f"max error ({unit})", justify="right")
    if times is not None:
        table.add_column("ns/element", justify="right")
    best_base: dict[int, object] = {}
    in_front = {id(r) for r in run.front}   # a baseline selected is on the front
    for b in run.baselines:
        if id(b) not in in_front and (b.cost not in best_base or b.error < best_base[b.cost].error):
            best_base[b.cost] = b
    rows = [(r.cost, 0, _label(run, i) + (" (selected)" if i == selected else ""), r) for i, r in enumerate(run.front)]
    rows += [(b.cost, 1, b.name, b) for b in best_base.values()]
    for c, kind, name, r in sorted(rows, key=lambda t: (t[0], t[1])):
        cells = [f"[bold]{name}[/bold]" if kind == 0 else name, str(r.cost), str(r.main_cost), _fmt(r.error, unit)]
        if times is not None:
            cells.append(f"{times[id(r)]:.2f}" if id(r) in times else "")
        table.add_row(*cells)
    return table


def kernel_time(slp, n: int = 1 << 14, repeat: int = 200) -> float:
    """Median ns per element of the compiled kernel on ``n`` in-cache elements."""
    import numpy as np

    from .approx.emit import kernel as compile_kernel

    kernel = compile_kernel(slp)
    x = np.linspace(0.1, 2.0, n).astype(slp.dtype)
    kernel(x)  # warm up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        kernel(x)
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples)) / n * 1e9


def _label(run, row) -> str:
    """How the report names a program of ``run``: ``search #i`` (its index on the front),
    or a baseline's own name with ``(baseline)``; ``row``: the program or its front index."""
    if isinstance(row, int):
        row = run.front[row]
    if row.is_baseline:
        return f"{row.name} (baseline)"
    return f"search #{run.front_index(row)}"


def _plan(name: str, settings, verify: bool) -> str:
    """The line printed first: what the run does and in which order, the time limit
    bounding the search alone (a 5 s run took minutes with no word of why)."""
    from .approx.job import domain_of
    from .approx.verify import SAMPLES, float32_count

    search = (f"{settings.max_evaluations} programs" if settings.max_evaluations is not None
              else f"{settings.time_limit:g} s (--time-limit)")
    text = f"approx {name} ({settings.dtype}): the baselines, then the search for {search}"
    if settings.dtype == "real" or not verify:
        return text + ("" if settings.dtype == "real" else "; no verification (--no-verify)")
    if settings.dtype == "float64":
        return text + f", then the pick is verified on a sample of {SAMPLES:,} inputs against mpmath"
    try:
        domain = domain_of(name, settings)
    except UserError:
        return text   # the job itself says what is wrong
    return (text + f", then the pick is verified on every float32 input of [{domain[0]:g}, {domain[1]:g}] "
            f"({float32_count(*domain):,}; the time it takes is shown as it goes, --no-verify skips it)")


def _verifier(status, name: str, task, client):
    """``verify_one(program, stop_above)`` for :func:`.approx.job.select_program`, with
    the verification's progress on the status line: inputs checked and the time left."""
    from .approx.program import cost as program_cost
    from .approx.verify import SAMPLES, float32_count, verify

    total = float32_count(*task.domain) if task.dtype == "float32" else 0
    tries = [0]

    def verify_one(program, stop_above=None):
        tries[0] += 1
        start = time.monotonic()
        what = f"approx {name}: verifying a {program_cost(program)}-operation program" + \
            (f" (candidate {tries[0]})" if tries[0] > 1 else "")
        if task.dtype == "float32":
            status.update(f"{what} on every float32 input ({total:,})")
        else:
            status.update(f"{what} on {SAMPLES:,} sampled inputs against mpmath")

        def vprogress(done: int) -> None:
            elapsed = time.monotonic() - start
            left = elapsed / done * (total - done) if done else math.nan
            status.update(f"{what} on every float32 input: {done:,} of {total:,} ({done / total:.0%}) in "
                          f"{elapsed:.0f} s, about {left:.0f} s left")

        return verify(program, task.target, task.domain, progress=vprogress, client=client, stop_above=stop_above)

    return verify_one


def _rejected_row(run, row, v) -> dict:
    """An entry of ``rejected_by_verification``: the program (``index`` into the front, or
    None for a baseline, which ``name`` names) and its verification."""
    return {"index": run.front_index(row), "name": row.name, "cost": row.cost, "error": row.error, **v.to_dict()}


def run(args) -> int:
    cluster = cluster_from_args(args)
    if not args.verify or args.dtype != "float32":
        cluster = None  # only the exhaustive float32 verification runs on a cluster
    with using_cluster(cluster) as client:
        return _run(args, client)


def _run(args, client) -> int:
    """``discover approx``; ``client``: a Dask client the float32 verification uses, or None."""
    from rich.console import Console

    from .approx import job
    from .approx import result as approx_result
    from .approx.emit import c_code, llvm_ir, object_code
    from .approx.program import code
    from .approx.targets import target

    settings = _settings(args)
    name = args.function
    output = result_path(args.output, _stem(name), f".{settings.dtype}.approx.json")
    if args.plot is not None:
        check_png_path(args.plot, "--plot")
    cname = _c_name(target(name), settings.dtype)
    written = [Path(output).resolve()] + ([Path(args.plot).resolve()] if args.plot else [])
    kinds = list(dict.fromkeys(args.emit))
    for kind in kinds:  # before the search: a failed write must not come after the result is replaced
        for path in _emit_paths(output, cname, kind):
            if path.is_dir():
                raise UserError(f"cannot write {path} (--emit {kind}): it is a directory; give another -o")
            written.append(path.resolve())
    if len(set(written)) < len(written):
        raise UserError(f"the result {output}, --plot and --emit would write the same file (the result's "
                        "name with the emitted file's extension, or the header's name); give another -o or --plot")
    not_emitted = f"nothing written for --emit {', '.join(kinds)}" if kinds else ""
    console = Console(stderr=True, quiet=args.quiet)
    console.print(_plan(name, settings, args.verify))
    with console.status(f"approx {name}: setting up") as status:
        def progress(info: dict) -> None:
            if info.get("phase") == "baselines":
                status.update(f"approx {name}: the baselines before the search (Remez fits: seconds on a first run "
                              "of this target and precision, then read from the cache)")
                return
            best = ", ".join(f"{c} ops: {e:.3g}" for c, e in info["front"][-4:])
            status.update(f"approx {name}: {info['elapsed']:.0f}/{settings.time_limit:g} s, "
                          f"{info['evaluations']} programs; front {best}")

        result = job.run(name, settings, progress)
        interrupted = bool(result.stats.get("interrupted"))   # Ctrl-C: the front so far, not verified
        unit = "relative" if settings.dtype == "real" else "ULP"
        times = None
        selection = job.Selection(None)
        if settings.dtype == "real":
            chosen = min(range(len(result.front)), key=lambda i: result.front[i].error) if result.front else None
            selection = job.Selection(chosen)
        else:
            key = None
            if args.cost == "time" and not interrupted:
                status.update(f"approx {name}: timing the front's kernels")
                times = {id(r): kernel_time(r.full) for r in result.front + result.baselines}
                key = lambda r: times[id(r)]  # noqa: E731
            verify_one = None
            if args.verify and not interrupted:
                verify_one = _verifier(status, name, result.task, client)
            started = time.monotonic()
            try:
                selection = job.select_program(result, settings.max_ulp, verify_one, key)
            except KeyboardInterrupt:
                interrupted = True   # while verifying: the cheapest within the goal, unverified
                selection = job.select_program(result, settings.max_ulp, None, key)
            if verify_one is not None:
                result.stats["verification_seconds"] = time.monotonic() - started
        chosen, verification = selection.index, selection.verification
    payload = _payload(result, chosen, verification, unit, times)
    payload["interrupted"] = interrupted
    payload["stats"]["interrupted"] = interrupted   # also where it came during the verification
    payload["rejected_by_verification"] = [_rejected_row(result, row, v) for row, v in selection.rejected]
    approx_result.save(payload, output)
    out = Console(soft_wrap=True)   # piped: whole lines, not wrapped at 80 columns
    out.print(front_table(result, unit, chosen, times))
    task = result.task
    if task.template is not None:
        out.print(f"range reduction: {task.template.name} template, core {task.core.name} on "
                  f"[{task.core.a:.6g}, {task.core.b:.6g}]; covers {task.template.valid(task.dtype)}")
    elif task.dtype != "real" and job.template_for(task.target, None, task.dtype) is not None:
        out.print(f"range reduction: none, one program covers [{task.domain[0]:g}, {task.domain[1]:g}] directly "
                  f"(without --domain the {task.target.template} template covers its whole domain)")
    if chosen is None:
        floor = min((r.error for r in result.baselines), default=math.inf)
        hint = ("try a longer --time-limit or a larger --max-ulp" if not floor > settings.max_ulp * 1.05 else
                f"no baseline of any degree reaches it either (the best: {_fmt(floor, unit)} {unit}), so the "
                "range reduction or the precision limits it; try a larger --max-ulp")
        out.print(f"no program within {settings.max_ulp:g} ULP was found in {result.stats.get('seconds', 0):.0f} s; "
                  + hint + (f" ({not_emitted})" if not_emitted else ""))
    else:
        best = result.front[chosen]
        out.print(f"selected: {_label(result, chosen)}, {best.cost} operations ({best.main_cost} on the main path), "
                  f"max error {_fmt(best.error, unit)} {unit} on {task.x_train.size} training inputs")
        for row, v in selection.rejected:
            found = (f"{v.max_ulp:.3f} ULP at x = {v.worst_input!r}, the check stopped there ({v.points:,} "
                     "inputs checked)" if v.stopped else f"max {v.max_ulp:.3f} ULP at x = {v.worst_input!r}")
            out.print(f"{_label(result, row)} ({row.cost} ops) was within the goal on the training inputs but "
                      f"not when verified ({v.method}): {found}")
        failed = verification is not None and verification.max_ulp > settings.max_ulp
        if failed:
            out.print(f"[bold red]no program verified within {settings.max_ulp:g} ULP[/bold red]; the closest is shown"
                      + (f" ({not_emitted})" if not_emitted else ""))
        if verification is not None:
            out.print(f"verified ({verification.method}, {verification.points:,} inputs, {verification.seconds:.0f} s): "
                      f"max {verification.max_ulp:.3f} ULP at x = {verification.worst_input!r}, "
                      f"{verification.correctly_rounded:.2%} correctly rounded")
        out.print("\n".join("    " + line for line in code(best.core)))
        if interrupted:
            from search import interrupt

            out.print(f"interrupted ({interrupt.described()}): the front found so far, not verified"
                      + (f"; {not_emitted}" if not_emitted else ""))
        for kind in ([] if interrupted or failed else kinds):
            paths = _emit_paths(output, cname, kind)
            if kind == "c":
                source, header = c_code(best.full, cname, f"{task.target.name}, {task.dtype}")
                write_text_atomic(paths[0], source)
                write_text_atomic(paths[1], header)
                out.print(f"C written to {paths[0]} and {paths[1]}")
            elif kind == "llvm":
                write_text_atomic(paths[0], llvm_ir(best.full, cname + "_array"))
                out.print(f"LLVM IR written to {paths[0]}")
            else:
                # the C file's array loop, same name and signature: both may be included or linked
                obj, header = object_code(best.full, cname + "_array")
                write_bytes_atomic(paths[0], obj)
                write_text_atomic(paths[1], header)
                out.print(f"object written to {paths[0]} and {paths[1]}")
    if args.plot:
        from .approx.plot import plot_run

        plot_run(result, chosen, args.plot, None if settings.dtype == "real" else settings.max_ulp)
        out.print(f"plot written to {args.plot}")
    around = [f"baselines {result.stats['baseline_seconds']:.0f} s before"] if "baseline_seconds" in result.stats else []
    if "verification_seconds" in result.stats:
        around.append(f"verification {result.stats['verification_seconds']:.0f} s after")
    out.print(f"{result.stats.get('evaluations', 0)} programs in {result.stats.get('seconds', 0):.0f} s"
              + (f" ({', '.join(around)})" if around else "") + f"; result written to {output}")
    return 0


def _c_name(target, dtype: str) -> str:
    """The emitted function's name: prefixed, since a kernel called expf would clash with
    the C library's."""
    return "approx_" + target.c_name + ("f" if dtype == "float32" else "")


def _emit_paths(output: Path, cname: str, kind: str) -> tuple[Path, ...]:
    """The files ``--emit kind`` writes beside the result file ``output``."""
    stem = output.with_suffix("")
    return {"c": (stem.with_suffix(".c"), stem.parent / f"{cname}.h"),
            "llvm": (stem.with_suffix(".ll"),),
            "object": (stem.with_suffix(".o"), stem.parent / f"{cname}_kernel.h")}[kind]


def _stem(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_") or "function"


def _payload(result, chosen, verification, unit, times) -> dict:
    from .approx.result import encode_program

    task = result.task

    def row(r) -> dict:
        d = {"name": r.name, "cost": r.cost, "main_path_cost": r.main_cost, "error": r.error}
        if times is not None and id(r) in times:
            d["ns_per_element"] = times[id(r)]
        return d

    return {
        "target": task.target.name, "dtype": task.settings.dtype, "domain": list(task.domain),
        "template": task.template.name if task.template else None,
        "valid": task.template.valid(task.dtype) if task.template else f"[{task.domain[0]:g}, {task.domain[1]:g}]",
        "core": f"{task.core.name} on [{task.core.a:.9g}, {task.core.b:.9g}]",
        "max_ulp": task.settings.max_ulp, "error_unit": unit.lower(),
        "front": [{**row(r), "core": encode_program(r.core), **encode_program(r.full)} for r in result.front],
        "baselines": [row(b) for b in result.baselines],
        "selected": chosen,
        "verification": verification.to_dict() if verification is not None else None,
        "training_inputs": int(task.x_train.size),
        "stats": result.stats,
    }
