"""Formula text from files and the command line is parsed without running Python code
(:mod:`codegen.text`): every parser of the project refuses what a formula has no use for."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy

import codegen
from codegen.text import check_text, sympify_text
from discover.errors import UserError

PAYLOADS = [
    "__import__('os').system('touch {marker}')",
    # sympify deletes newlines before it evaluates: "ex\nec" would pass as two names
    "ex\nec(" + "+".join(f"ch\nr({ord(c)})" for c in "open('{marker}', 'w')") + ")",
    "exec(chr(112))",                       # a string built without quotes
    "x.__class__",
    "lambdify(x, x)",
    "(lambda: 1)()",
    "x[0]",
    "open(x)",
]


@pytest.mark.parametrize("text", [
    "x*sin(y) + exp(-x**2)", "Piecewise((x, x > 0), (0, True))", "x^2 + 1e-3", "Max(x, 1)*abs(x)",
    "sqrt(x) + cbrt(y) + root(x, 3)", "S(1)/3*x", "pow(x, 2)", "Derivative(u, x, 2)", "gamma(x) + beta(x, y)",
    "(x > 0) & (y < 1)", "atan2(y, x) + erf(x) + loggamma(y)",
])
def test_formulas_parse_as_sympify_does(text):
    assert sympify_text(text) == sympy.sympify(text)


@pytest.mark.parametrize("text", ["10**10**10", "2**-10**10", "(10**10)**(10**10)", "3**(2*10**9)"])
def test_powers_of_numbers_too_large_to_evaluate_are_refused_at_once(text):
    """SymPy would compute these exactly (minutes, gigabytes): one line instead, before
    anything is evaluated; symbolic and modest powers pass."""
    with pytest.raises(ValueError, match="too large to evaluate"):
        sympify_text(text)
    assert sympify_text("x**10**10 + 2**1000") == sympy.Symbol("x")**10**10 + 2**1000


@pytest.mark.parametrize("text", PAYLOADS)
def test_code_is_refused_before_anything_runs(tmp_path, text):
    marker = tmp_path / "ran"
    text = text.format(marker=marker)
    with pytest.raises(ValueError, match="formula|name"):
        check_text(text)
    with pytest.raises(ValueError):
        codegen.compile(text, "x")
    assert not marker.exists()


def test_result_files_and_commands_do_not_run_their_formulas(tmp_path):
    """A shared result file, a PySR CSV, a simulated right-hand side and a known part:
    each refuses the payload with one line, and the payload never runs."""
    from discover.pde import simulate
    from discover.pde.library import parse_expression
    from discover.pysr import read_hall_of_fame
    from discover.result import Equation, FitResult, parse_equation

    marker = tmp_path / "ran"
    payload = f"__import__('os').system('touch {marker}')"
    with pytest.raises(ValueError, match="'__import__' is not a name"):
        parse_equation(payload, ["x0"])
    # the payload in a row that is not the selected one: the file is refused all the same
    result = FitResult(data=None, target="y", variables=["x0"], settings={},
                       equations=[Equation(1, 1.0, 0.0, payload), Equation(3, 0.5, 0.1, "2*x0")], selected=1,
                       model_selection="best")
    path = tmp_path / "evil.json"
    result.save(path)
    from discover import cli
    assert cli.main(["codegen", str(path)]) == 2
    assert cli.main(["plot", str(path), "-o", str(tmp_path / "evil.png")]) == 2
    assert not (tmp_path / "evil.png").exists()
    csv = tmp_path / "hall_of_fame.csv"
    csv.write_text(f'Complexity,Loss,Equation\n1,0.5,"{payload}"\n')
    with pytest.raises(UserError):
        read_hall_of_fame(csv)
    with pytest.raises(ValueError):
        parse_expression(payload, ["u"], ["x"], "known part")
    for rhs, initial in ((payload, "sin(x)"), ("0.1*u_xx", payload)):
        with pytest.raises(simulate.SimulationInputError, match="'__import__' is not a name"):
            case = simulate.custom_case({"u": rhs}, [(0.0, 2 * np.pi)], 32, 1.0, 11, {"u": initial})
            simulate.build_problem(case.rhs, case.domain)
            simulate.initial_values(case)
    assert not marker.exists()
    json.loads(path.read_text())   # the file itself stays as written
