"""The command line answers ``--help`` and usage errors without loading the numerical
stack: JAX, SciPy and SymPy take seconds to import, so the parser and the checks that run
before a job's data is read must not import them (they load where a job runs)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("jax", "scipy", "sympy")

# In a fresh interpreter: every sub-command's --help, a few usage errors, an unknown operator
# and missing files, then which of HEAVY got imported.
SCRIPT = textwrap.dedent("""
    import argparse, contextlib, io, json, sys

    from discover.cli import build_parser, main

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    runs = ([["--help"]] + [[name, "--help"] for name in commands]
            + [[], ["frob"], ["fit"], ["fit", "x.h5", "--bogus"], ["fit", "x.h5", "--model-selection", "worst"],
               ["pde", "x.h5", "--method", "guess"], ["approx"], ["codegen", "--lang", "fortran"],
               ["fit", "missing.h5"], ["fit", "missing.h5", "--maxsize", "2"], ["fit", "x.h5", "--operators", "+,sinn"],
               ["fit", "missing.h5", "--operators", "+,sin"], ["pde", "missing.h5"],
               ["codegen", "missing.json"], ["plot", "missing.json"]])
    codes = {}
    for argv in runs:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
        codes[" ".join(argv)] = code
    print(json.dumps({"commands": list(commands), "codes": codes,
                      "loaded": [name for name in HEAVY if name in sys.modules]}))
""")


def test_help_and_usage_errors_do_not_import_jax_scipy_or_sympy(tmp_path):
    proc = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n" + SCRIPT], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert {"fit", "pde", "approx", "codegen", "simulate", "plot"} <= set(report["commands"])
    codes = report["codes"]
    assert codes.pop("--help") == 0
    for name in report["commands"]:
        assert codes.pop(f"{name} --help") == 0, name
    assert all(code == 2 for code in codes.values()), codes   # usage errors and missing files: status 2
    assert report["loaded"] == [], f"imported while parsing and checking options: {report['loaded']}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []   # nothing written
