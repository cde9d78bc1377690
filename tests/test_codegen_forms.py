"""codegen's other forms: C source, object file, shared library, JAX, and the CLI.

Each native form is compiled for real and called through ctypes (or a C program); its
numbers must equal the JIT kernel's bit for bit (NaN == NaN).  The C source calls the
scalar C library, so it is compared with ``math="libm"`` kernels; object files and
shared libraries are built from the same IR as the JIT kernel of the same math mode.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import subprocess

import numpy as np
import pytest
import sympy

import codegen
from discover import codegen_command
from discover.errors import UserError
from discover.result import Equation, FitResult

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")

EXPRS = ["x*sin(y) + exp(-x**2)", "sqrt(x*x + y*y) / (1 + Abs(y))",
         "Piecewise((log(x), x > 1), (atan2(x, y)**3, True)) + Max(x, y) - floor(y)"]


def _inputs(dtype):
    rng = np.random.default_rng(7)
    x = rng.uniform(-4, 4, 37).astype(dtype)
    y = rng.uniform(-4, 4, 37).astype(dtype)
    x[:4] = [0.0, np.inf, np.nan, -0.0]
    return x, y


def _call_ctypes(function, dtype, inputs, n_outputs):
    outputs = [np.empty_like(inputs[0]) for _ in range(n_outputs)]
    function.argtypes = [ctypes.c_int64] + [ctypes.c_void_p] * (len(inputs) + n_outputs)
    function.restype = None
    function(len(inputs[0]), *[a.ctypes.data for a in (*inputs, *outputs)])
    return outputs


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def _build_c_library(tmp_path, source, stem="kernel"):
    (tmp_path / f"{stem}.c").write_text(source)
    lib = tmp_path / f"{stem}.so"
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off",
                    "-fPIC", "-shared", "-o", str(lib), str(tmp_path / f"{stem}.c"), "-lm"],
                   check=True, capture_output=True, text=True)
    return ctypes.CDLL(str(lib))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_c_source_matches_jit(tmp_path, dtype):
    source, header = codegen.emit_c(EXPRS, "x,y", dtype=dtype, name="feynman")
    for flags in (["-O2"], ["-std=c99", "-O0"]):  # the plain spelling from the docs too
        subprocess.run(["cc", *flags, "-Wall", "-Wextra", "-Werror", "-c", "-x", "c", "-",
                        "-o", str(tmp_path / "k.o")], input=source, check=True, text=True)
    lib = _build_c_library(tmp_path, source)
    x, y = _inputs(dtype)
    got = _call_ctypes(lib.feynman, dtype, (x, y), len(EXPRS))
    expected = codegen.compile(EXPRS, "x,y", dtype=dtype, math="libm")(x, y)
    for g, e in zip(got, expected):
        assert _same(g, e)
    assert "void feynman(int64_t n, const " in header


def test_c_names_and_unused_arguments(tmp_path):
    # C keywords, odd characters, the C source's own temporaries (t0) and the math
    # functions it calls (sin, exp) as argument names
    names = [sympy.Symbol(v) for v in ("int", "x.y", "λ", "unused", "t0", "sin", "exp")]
    expr = names[0] * sympy.exp(names[1]) - names[2] + 2 * names[4] + sympy.sin(names[5]) * names[6]
    source, header = codegen.emit_c(expr, names, name="for")
    lib = _build_c_library(tmp_path, source)
    x = np.linspace(0, 1, 9)
    (out,) = _call_ctypes(getattr(lib, "for_"), "float64", (x,) * 7, 1)
    assert _same(out, codegen.compile(expr, names, math="libm")(*(x,) * 7))
    assert all(f"*{v}" in header for v in ("int_", "x_y", "u3bb", "t0", "sin_", "exp_"))


def test_c_header_serves_a_c_program(tmp_path):
    source, header = codegen.emit_c(["x*y + 1", "x - y"], "x,y")
    (tmp_path / "kernel.h").write_text(header)
    (tmp_path / "kernel.c").write_text(source)
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "kernel.h"\n'
        "int main(void) { double x[3] = {1, 2, 3}, y[3] = {4, 5, 6}, a[3], b[3];\n"
        "  kernel(3, x, y, a, b);\n"
        '  printf("%g %g %g %g %g %g\\n", a[0], a[1], a[2], b[0], b[1], b[2]); return 0; }\n')
    exe = tmp_path / "main"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
                    str(tmp_path / "main.c"), str(tmp_path / "kernel.c"), "-lm"], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split() == \
        ["5", "11", "19", "-3", "-3", "-3"]


@pytest.mark.parametrize("math", ["libm", "libmvec", "fast"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shared_library_matches_jit(tmp_path, dtype, math):
    data, header = codegen.emit_shared_library(EXPRS, "x,y", dtype=dtype, math=math, name="k")
    path = tmp_path / "k.so"
    path.write_bytes(data)
    x, y = _inputs(dtype)
    got = _call_ctypes(ctypes.CDLL(str(path)).k, dtype, (x, y), len(EXPRS))
    for g, e in zip(got, codegen.compile(EXPRS, "x,y", dtype=dtype, math=math)(x, y)):
        assert _same(g, e)
    assert header == codegen.emit_header(EXPRS, "x,y", dtype=dtype, name="k")


def test_object_file_links_into_a_library(tmp_path):
    data, header = codegen.emit_object(EXPRS[0], "x,y", name="obj_kernel")
    (tmp_path / "k.o").write_bytes(data)
    subprocess.run(["cc", "-shared", "-o", str(tmp_path / "k.so"), str(tmp_path / "k.o"), "-lm"], check=True)
    x, y = _inputs("float64")
    (got,) = _call_ctypes(ctypes.CDLL(str(tmp_path / "k.so")).obj_kernel, "float64", (x, y), 1)
    assert _same(got, codegen.compile(EXPRS[0], "x,y")(x, y))
    assert "obj_kernel" in header


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_jax_function_matches_jit(dtype):
    import jax

    f = codegen.to_jax(EXPRS, "x,y", dtype=dtype)
    x, y = _inputs(dtype)
    x, y = x[4:], y[4:]  # finite inputs: XLA's own exp/sin differ from libm in the last bits
    expected = codegen.compile(EXPRS, "x,y", dtype=dtype, math="libm")(x, y)
    for fn in (f, jax.jit(f)):
        with jax.enable_x64(dtype == "float64"):  # else jax.jit rounds float64 inputs to float32
            got = fn(x, y)
        for g, e in zip(got, expected):
            assert np.asarray(g).dtype == np.dtype(dtype)
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-13 if dtype == "float64" else 2e-6)
    single = codegen.to_jax("x*y", "x,y")
    assert float(single(2.0, 3.0)) == 6.0
    gradient = jax.grad(lambda v: codegen.to_jax("x**3", "x")(v))(2.0)
    assert float(gradient) == pytest.approx(12.0)


def test_llvm_ir_text_is_vectorised_and_names_the_function():
    text = codegen.emit_llvm_ir("x*y + z", "x,y,z", name="fma_like")
    assert "define void @fma_like(i64" in text and "vector.body" in text
    unoptimised = codegen.emit_llvm_ir("x*y + z", "x,y,z", optimize=False)
    assert "vector.body" not in unoptimised and "noalias" in unoptimised


# ----------------------------------------------------------------------------- CLI

def _run_cli(argv):
    parser = argparse.ArgumentParser(prog="discover")
    codegen_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["codegen", *argv])
    return args.run(args)


def test_cli_expression_to_c(tmp_path, capsys):
    stem = tmp_path / "kernel"
    assert _run_cli(["--expr", "x*sin(y) + exp(-x**2)", "--args", "x,y", "--lang", "c", "-o", str(stem),
                     "--dtype", "float32", "--name", "f"]) == 0
    assert "kernel.c" in capsys.readouterr().out
    assert (tmp_path / "kernel.h").exists()
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-c", str(tmp_path / "kernel.c"),
                    "-o", str(tmp_path / "kernel.o")], check=True)
    assert _run_cli(["--expr", "x + 1", "--args", "x", "--lang", "llvm"]) == 0
    assert "define void @kernel" in capsys.readouterr().out


def test_cli_result_file_to_shared_library(tmp_path, capsys):
    result = FitResult(data=None, target="y", variables=["gamma", "x1"], settings={},
                       equations=[Equation(1, 1.0, 0.0, "x1"), Equation(5, 0.1, 0.5, "gamma*exp(x1)")],
                       selected=1, model_selection="best")
    path = tmp_path / "result.json"
    result.save(path)
    assert _run_cli([str(path), "--lang", "shared", "-o", str(tmp_path / "k.so"), "--math", "fast"]) == 0
    lib = ctypes.CDLL(str(tmp_path / "k.so"))
    g, x1 = np.array([2.0, 3.0]), np.array([0.0, 1.0])
    (out,) = _call_ctypes(lib.kernel, "float64", (g, x1), 1)
    np.testing.assert_allclose(out, g * np.exp(x1), rtol=1e-15)
    assert _run_cli([str(path), "--select", "0", "--lang", "llvm", "-o", str(tmp_path / "first")]) == 0
    assert (tmp_path / "first.ll").exists()
    with pytest.raises(UserError, match="--select 2 is out of range"):
        _run_cli([str(path), "--select", "2"])


@pytest.mark.parametrize("argv,message", [
    (["--expr", "besselj(0, x)", "--args", "x"], "function 'besselj' is not supported"),
    (["--expr", "x +", "--args", "x"], "cannot parse expression"),
    (["--expr", "x + y", "--args", "x"], "not among the args"),
    (["--expr", "x"], "--expr needs --args"),
    (["missing.json"], "result file not found"),
    ([], "give a result file or --expr"),
    (["--expr", "x", "--args", "x", "--lang", "object"], "give -o PATH"),
    (["--expr", "x", "--args", "x", "-o", "/nonexistent/dir/k"], "output directory does not exist"),
    (["--expr", "x", "--args", "1x"], "'1x' is not a valid name"),
    (["--expr", "lambda + 1", "--args", "lambda"], "'lambda' is not a valid name"),
    (["--expr", "x", "--args", "x", "--lang", "c", "--fastmath", "bogus"], "--fastmath applies to the compiled forms"),
    (["--expr", "x", "--args", "x", "--math", "fast"], "--math fast applies to the compiled forms"),
    (["--expr", "1 + 2", "--args", ""], "--args is empty"),
    (["--expr", "x + y", "--args", "x,,y"], "'' is not a valid name"),
    (["--expr", "x", "--args", "x", "-o", ""], "names a directory"),
    (["--expr", "x", "--args", "x", "-o", "."], "names a directory"),
    (["--expr", "x", "--args", "x", "-o", "somewhere/"], "names a directory"),
])
def test_cli_bad_input_is_a_user_error(argv, message):
    with pytest.raises(UserError, match=message) as info:
        _run_cli(argv)
    assert "\n" not in str(info.value)


def test_cli_entry_point_exit_code(tmp_path):
    cli = pytest.importorskip("discover.cli")
    try:
        cli.build_parser()
    except ImportError:
        pytest.skip("discover.fit_command is not there yet")
    assert cli.main(["codegen", "--expr", "foo(x)", "--args", "x"]) == 2
    assert cli.main(["codegen", "--expr", "x**2", "--args", "x", "-o", str(tmp_path / "k")]) == 0


def test_cli_writes_both_files_or_neither(tmp_path, capsys):
    """A pair whose second file cannot be written leaves no first file behind; ``-o k.h``
    names the pair ``k``; ``--math libm`` is what C source does, so it is accepted."""
    (tmp_path / "k.h").mkdir()
    with pytest.raises(UserError, match="k.h"):
        _run_cli(["--expr", "x", "--args", "x", "-o", str(tmp_path / "k")])
    assert not (tmp_path / "k.c").exists()
    (tmp_path / "s.h").mkdir()
    with pytest.raises(UserError, match="s.h"):
        _run_cli(["--expr", "x", "--args", "x", "--lang", "shared", "-o", str(tmp_path / "s")])
    assert not (tmp_path / "s.so").exists()
    assert _run_cli(["--expr", "x + 1", "--args", "x", "--math", "libm", "-o", str(tmp_path / "j.h")]) == 0
    assert {p.name for p in tmp_path.glob("j*")} == {"j.c", "j.h"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temporaries left


def test_cli_expression_may_start_with_a_minus(tmp_path):
    cli = pytest.importorskip("discover.cli")
    assert cli.main(["codegen", "--expr", "-x**2", "--args", "x", "-o", str(tmp_path / "m")]) == 0
    source = (tmp_path / "m.c").read_text()
    assert "_t0 * _t0;" in source and "= -_t1;" in source     # -(x*x), not an option "-x**2"
