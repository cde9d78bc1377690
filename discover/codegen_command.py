"""``discover codegen``: turn a formula (given, or from a result file) into native code.

    discover codegen --expr "x*sin(y) + exp(-x**2)" --args x,y --lang c -o kernel
    discover codegen result.json [--select N] --lang shared -o kernel
    discover codegen hall_of_fame.csv [--args x0,x1] -o kernel     # a PySR front
    discover codegen burgers.pde.json [--select FIELD_INDEX] -o rhs # a PDE's right-hand side

``--lang c`` writes ``kernel.c`` + ``kernel.h``; ``llvm`` writes ``kernel.ll``; ``object``
writes ``kernel.o`` + ``kernel.h``; ``shared`` writes ``kernel.so`` + ``kernel.h``.  Text
forms go to stdout when ``-o`` is omitted.  Files are written atomically.  Bad input
(unparsable or unsupported expression, missing file, bad ``--select``) is a
:class:`~discover.errors.UserError`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .atomic import write_files_atomic
from .errors import UserError

LANGUAGES = {"c": ".c", "llvm": ".ll", "object": ".o", "shared": ".so"}


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "codegen",
        help="emit C, LLVM IR, an object file or a shared library for a formula",
        description="Emit a kernel void NAME(int64_t n, const T *arg..., T *out0) for a formula "
                    "given with --expr/--args or taken from a result file of `discover fit` or `discover pde`.",
    )
    parser.add_argument("result", nargs="?",
                        help="result JSON file of `discover fit` or `discover pde`, or a PySR hall_of_fame.csv")
    parser.add_argument("--select", type=int, metavar="N",
                        help="index of the Pareto-front member to emit (default: the selected one); of a PDE "
                             "result, the equation (default 0, the first field's)")
    parser.add_argument("--expr", help="the formula (SymPy syntax), instead of a result file")
    parser.add_argument("--args", help="comma-separated argument names, in order (with --expr; with a PySR "
                                       "CSV: its variables in column order, default x0, x1, ... as found)")
    parser.add_argument("--lang", choices=sorted(LANGUAGES), default="c", help="output form (default c)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="output path without extension (stdout for c/llvm when omitted)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--math", choices=["fast", "libm", "libmvec"], default=None,
                        help="fast (the default, codegen.DEFAULT_MATH): inline and vectorised functions "
                             "within 1 ULP where codegen.fastmath has them, else the C library (erf, erfc, "
                             "gamma, loggamma; sin, cos, tan beyond 2**50, float32 2**22); "
                             "libm: scalar C library calls, exact libm semantics (what C source does); "
                             "libmvec: glibc's vector functions (within 4 ULP)")
    parser.add_argument("--fastmath", metavar="FLAGS", default="",
                        help="LLVM fast-math flags, comma-separated (contract,afn,...) or 'fast'")
    parser.add_argument("--name", default="kernel", help="function name (sanitized to a C identifier)")
    parser.set_defaults(run=run)
    return parser


def formula(args) -> tuple[object, list[str]]:
    """The expression to emit and its argument names, from --expr/--args or a result file."""
    if args.expr is not None and args.result is not None:
        raise UserError("give either a result file or --expr, not both")
    if args.expr is not None:
        if args.args is None:
            raise UserError("--expr needs --args (comma-separated argument names, in order)")
        if not args.args.strip(" ,"):
            raise UserError("--args is empty: a kernel takes at least one array argument")
        if args.select is not None:
            raise UserError("--select applies to a result file, not to --expr")
        import keyword

        names = [a.strip() for a in args.args.split(",")]
        bad = [n for n in names if not n.isidentifier() or keyword.iskeyword(n)]
        if bad:
            raise UserError(f"--args: {', '.join(repr(n) for n in bad)} is not a valid name; argument names are "
                            "identifiers (letters, digits and _, not starting with a digit) and not Python keywords")
        return args.expr, names
    if args.result is None:
        raise UserError("give a result file or --expr with --args")
    from .result import FitResult, parse_equation

    result, names = _fit_result(args)
    from .pde.result import PDEResult

    if isinstance(result, PDEResult):
        return _pde_formula(args, result)
    if not isinstance(result, FitResult):
        raise UserError(f"{args.result} is not a formula or PDE result (of `discover fit`, `discover pde` or "
                        "PySR); give the formula with --expr and --args")
    index = _selected(args, len(result.equations), result.selected)
    text = result.equations[index].sympy
    try:
        expr = parse_equation(text, list(dict.fromkeys(names + list(result.variables))))
    except Exception as exc:  # SymPy raises many kinds for bad text
        raise UserError(f"cannot parse equation {text!r} of {args.result}: {exc}".splitlines()[0]) from None
    unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in names)
    if unknown:
        raise UserError(f"equation {index} of {args.result} uses {', '.join(unknown)}, which --args does not name "
                        f"({', '.join(names)}); name every variable of the equation")
    return expr, names


def _selected(args, count: int, default: int, listing: str = "") -> int:
    """``--select`` (``default`` where not given) as an index into the ``count`` equations of
    the result file, or a UserError (``listing`` names them)."""
    index = default if args.select is None else args.select
    if not 0 <= index < count:
        raise UserError(f"--select {index} is out of range: {args.result} has {count} equations "
                        f"({listing + '; ' if listing else ''}0 to {count - 1})")
    return index


def _pde_formula(args, result) -> tuple[object, list[str]]:
    """The whole right-hand side (known part and found terms) of equation ``--select``
    (default 0, the first field) of a PDE result; its arguments the fields and derivative
    symbols it uses, fields first, then by derivative order (``u, v, u_x, u_xx``)."""
    import sympy

    from .pde.result import parse_rhs

    index = _selected(args, len(result.equations), 0, ", ".join(eq["lhs"] for eq in result.equations))
    equation, axes = result.equations[index], result.coords[1:]
    expr = sum((parse_rhs(text, result.fields, axes) for text in (equation.get("known"), equation["rhs"]) if text),
               sympy.Integer(0))
    used = sorted((str(s) for s in expr.free_symbols),
                  key=lambda n: (len(n.partition("_")[2]), result.fields.index(n.partition("_")[0]), n))
    names = used or [result.fields[0]]
    print(f"{equation['lhs']} = {expr}; kernel arguments: {', '.join(names)}", file=sys.stderr)
    return expr, names


def _fit_result(args):
    """The result file and the kernel's argument names: a PySR CSV (the arguments from
    ``--args`` if given, else the variables its equations use) or any result JSON (its
    variables)."""
    if str(args.result).lower().endswith(".csv"):
        from .pysr import read_hall_of_fame

        result = read_hall_of_fame(args.result)
        given = [a.strip() for a in args.args.split(",") if a.strip()] if args.args else None
        return result, given or list(result.variables)
    if args.args:
        raise UserError("--args applies to --expr or a PySR CSV; a result JSON names its variables (a PDE "
                        "result: the fields and derivatives its equation uses)")
    from .results import load_result

    result = load_result(args.result)
    return result, list(getattr(result, "variables", []))


def emit(args, expr, names: list[str]) -> dict[str, str | bytes]:
    """Extension -> content of each file of the chosen form."""
    import codegen

    flags = {f.strip() for f in args.fastmath.split(",") if f.strip()}
    math_for_c = args.math not in (None, "libm")   # C source calls the C library: libm is what it does
    if args.lang == "c" and (flags or math_for_c):
        given = [f for f, v in (("--fastmath", flags), (f"--math {args.math}", math_for_c)) if v]
        verb = "apply" if len(given) > 1 else "applies"
        raise UserError(f"{' and '.join(given)} {verb} to the compiled forms (--lang llvm, object, shared), not to "
                        "C source, which calls the C library; drop it or choose another --lang")
    options = dict(dtype=args.dtype, name=args.name)
    native = dict(options, math=args.math or codegen.DEFAULT_MATH, fastmath=flags)
    try:
        if args.lang == "c":
            source, header = codegen.emit_c(expr, names, **options)
            return {".c": source, ".h": header}
        if args.lang == "llvm":
            return {".ll": codegen.emit_llvm_ir(expr, names, **native)}
        if args.lang == "object":
            data, header = codegen.emit_object(expr, names, **native)
            return {".o": data, ".h": header}
        data, header = codegen.emit_shared_library(expr, names, **native)
        return {".so": data, ".h": header}
    except (ValueError, TypeError) as exc:  # includes codegen.UnsupportedError
        raise UserError(str(exc).splitlines()[0]) from None
    except RuntimeError as exc:  # no C compiler, link failure
        raise UserError(str(exc).splitlines()[0]) from None


def run(args) -> int:
    expr, names = formula(args)
    if args.output is None and args.lang in ("object", "shared"):
        raise UserError(f"--lang {args.lang} writes a binary file: give -o PATH")
    files = emit(args, expr, names)
    if args.output is None:
        for content in files.values():
            sys.stdout.write(content)
        return 0
    stem = output_stem(args.output, list(files))
    paths = {stem.with_name(stem.name + extension): content for extension, content in files.items()}
    write_files_atomic(paths)   # all or none; an unwritable path: OutputError, one line
    print("wrote " + ", ".join(map(str, paths)))
    return 0


def output_stem(output: str, extensions: list[str]) -> Path:
    """The files' common path ``-o PATH`` less an extension of one of them (``k.c`` or
    ``k.h`` -> ``k``); UserError for a directory or a missing one."""
    if not output or output.endswith(("/", os.sep)) or Path(output).is_dir() or Path(output).name in ("", ".", ".."):
        raise UserError(f"-o {output!r} names a directory; -o takes the files' path without extension, "
                        f"such as {os.path.join(output or '.', 'kernel')}")
    stem = Path(output)
    if stem.suffix in extensions:
        stem = stem.with_suffix("")
    if not stem.parent.is_dir():
        raise UserError(f"output directory does not exist: {stem.parent}")
    return stem
