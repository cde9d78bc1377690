"""The trajectory refit (maximum likelihood by simulation) of the weak form's coefficients."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from discover.pde import library as lib
from discover.pde import trajectory
from discover.pde.data import fields_from_arrays
from discover.pde.fit import PDESettings, fit_pde
from discover.pde.simulate import simulate

u, u_x, u_xx = sympy.symbols("u u_x u_xx")
BURGERS = -u * u_x + 0.1 * u_xx


def field_data(case: str, noise: float, seed: int, periodic: bool = True):
    d = simulate(case, noise=noise, seed=seed)
    arrays = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
    return fields_from_arrays(arrays, {"periodic": periodic}, fields=list(d["rhs"]))


def found(equation) -> sympy.Expr:
    return sum(t.coefficient * lib.parse_expression(t.term, ["u"], ["x"]) for t in equation.terms)


def test_refit_lowers_the_weak_forms_error_on_noisy_burgers():
    data = field_data("burgers", noise=0.01, seed=0)
    weak = fit_pde(data, PDESettings(bootstrap=8, trajectory=False))
    refined = fit_pde(data, PDESettings(bootstrap=8))
    assert refined.refined and refined.refinement.startswith("trajectory refit:")
    exact_weak, err_weak = lib.compare_with_truth(found(weak.equations[0]), BURGERS)
    exact, err = lib.compare_with_truth(found(refined.equations[0]), BURGERS)
    assert exact_weak and exact
    # measured: weak 5.8e-4, refit 3.2e-4 (the Cramér–Rao bound of u_xx here is 4.0e-4)
    assert err < 4e-4 < err_weak
    stds = {t.term: t.std for t in refined.equations[0].terms}
    assert 0.1 * 2e-4 < stds["u_xx"] < 0.1 * 8e-4  # Cramér–Rao spread, absolute
    assert 2e-5 < stds["u*u_x"] < 4e-4


def test_refine_converges_from_perturbed_coefficients_to_within_its_spread():
    data = field_data("burgers", noise=0.01, seed=1)
    active = [(0, lib.Term(u**2, (1,))), (0, lib.Term(u, (2,)))]  # (u^2)_x, u_xx
    truth = np.array([-0.5, 0.1])
    noise = {"u": 0.01 * float(np.sqrt(np.mean(data.fields["u"] ** 2)))}
    out = trajectory.refine(data, active, truth * 1.05, {}, noise)
    assert isinstance(out, trajectory.Refinement), out
    spread = np.sqrt(np.diag(out.covariance))
    assert np.all(np.abs(out.coefficients - truth) < 4 * spread)
    assert np.all(spread < 1e-3 * np.abs(truth))
    assert 0.9 < out.whitened_rms < 1.1


def test_refine_declines_what_it_cannot_do():
    active = [(0, lib.Term(u**2, (1,))), (0, lib.Term(u, (2,)))]
    w0 = np.array([-0.5, 0.1])
    noisy = field_data("burgers", noise=0.01, seed=0, periodic=False)
    assert "not periodic" in trajectory.refine(noisy, active, w0, {}, {"u": 0.003})
    clean = field_data("burgers", noise=0.0, seed=0)
    assert "no noise" in trajectory.refine(clean, active, w0, {}, {"u": 0.0})
    # a model without the advection cannot follow the data: the weak form's coefficients stay
    wrong = trajectory.refine(field_data("burgers", noise=0.01, seed=0), active[1:], w0[1:], {},
                              {"u": 0.01 * 0.2})
    assert isinstance(wrong, str) and "misses the data" in wrong


def test_clean_data_the_option_and_the_strong_form_keep_their_coefficients():
    clean = fit_pde(field_data("burgers", noise=0.0, seed=0), PDESettings(bootstrap=4))
    assert not clean.refined and "no noise" in clean.refinement
    noisy = field_data("burgers", noise=0.01, seed=0)
    assert fit_pde(noisy, PDESettings(bootstrap=4, trajectory=False)).refinement is None
    assert fit_pde(noisy, PDESettings(method="strong", bootstrap=4)).refinement is None


def test_hidden_term_coefficients_are_refitted_with_the_known_part_fixed():
    data = field_data("allen_cahn", noise=0.01, seed=0)
    settings = PDESettings(known={"u": "0.01*u_xx"}, bootstrap=4)
    weak = fit_pde(data, PDESettings(known={"u": "0.01*u_xx"}, bootstrap=4, trajectory=False))
    refined = fit_pde(data, settings)
    assert refined.refined, refined.refinement
    truth = u - u**3
    exact, err = lib.compare_with_truth(found(refined.equations[0]), truth)
    # measured: weak 8.3e-4, refit 5.7e-4 (the Cramér–Rao spread of u^3 here is 5.8e-4)
    assert exact and err < 6.5e-4 < lib.compare_with_truth(found(weak.equations[0]), truth)[1]
    assert refined.equations[0].equation().startswith("u_t = 0.01*u_xx + [")


def test_a_failing_refit_keeps_the_weak_form_and_says_why(monkeypatch):
    data = field_data("burgers", noise=0.01, seed=0)
    weak = fit_pde(data, PDESettings(bootstrap=4, trajectory=False))

    def broken(*args, **kwargs):
        raise RuntimeError("XLA ran out of memory")

    monkeypatch.setattr(trajectory, "refine", broken)
    fit = fit_pde(data, PDESettings(bootstrap=4))
    assert not fit.refined and fit.refinement == "failed (RuntimeError: XLA ran out of memory)"
    assert fit.equations[0].rhs == weak.equations[0].rhs


def test_the_work_limit_declines_a_costly_refit(monkeypatch):
    data = field_data("burgers", noise=0.01, seed=0)
    active, w0 = [(0, lib.Term(u**2, (1,))), (0, lib.Term(u, (2,)))], np.array([-0.5, 0.1])
    monkeypatch.setattr(trajectory, "MAX_WORK", trajectory.work(data, 2, 1) / 2)
    assert "too large" in trajectory.refine(data, active, w0, {}, {"u": 0.002})
    monkeypatch.setattr(trajectory, "MAX_WORK", trajectory.work(data, 2, 1))  # 1 step allowed, 2 needed
    assert "not accurate enough" in trajectory.refine(data, active, w0, {}, {"u": 0.002})


@pytest.mark.parametrize("flag, applied", [([], True), (["--no-trajectory-refit"], None)])
def test_cli_reports_the_refit(tmp_path, capsys, flag, applied):
    import json

    from discover.cli import main
    from discover.pde.simulate import write

    path = tmp_path / "b.h5"
    write(path, simulate("burgers", noise=0.01, seed=0))
    out = tmp_path / "r.json"
    assert main(["pde", str(path), "-o", str(out), "-q", *flag]) == 0
    printed = capsys.readouterr().out
    extra = json.loads(out.read_text())["extra"]
    if applied is None:
        assert "trajectory_refit" not in extra and "trajectory refit" not in printed
    else:
        assert extra["trajectory_refit"]["applied"] is True
        assert extra["trajectory_refit"]["message"].startswith("trajectory refit:")
        assert "coefficients: trajectory refit:" in printed


def test_a_two_field_system_is_refitted_jointly():
    from discover.pde.simulate import simulate_rhs

    d = simulate_rhs({"u": "0.05*u_xx + v - u**3", "v": "0.05*v_xx - u"}, [(0.0, 10.0)], 128, 5.0, 101,
                     {"u": "sin(2*pi*x/10)", "v": "cos(4*pi*x/10)"}, noise=0.01, seed=0)
    arrays = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
    fit = fit_pde(fields_from_arrays(arrays, {"periodic": True}, fields=["u", "v"]), PDESettings(bootstrap=4))
    assert fit.refined, fit.refinement
    truth = {"u": {"u_xx": 0.05, "v": 1.0, "u**3": -1.0}, "v": {"v_xx": 0.05, "u": -1.0}}
    for equation in fit.equations:
        found = {t.term: (t.coefficient, t.std) for t in equation.terms}
        assert set(found) == set(truth[equation.field])
        for term, c in truth[equation.field].items():
            value, std = found[term]
            assert abs(value - c) < 4 * std and 1e-5 < std < 1e-3, (equation.field, term, value, std)


def test_free_form_coefficients_are_refitted_and_their_residual_recomputed():
    """The evolve method's found right-hand side (here a rough one, as a short search returns)
    gets maximum-likelihood outer coefficients and a weak residual of the refitted model."""
    from discover.pde.fit import FieldEquation, parse_known
    from discover.pde.free_form import _refit_free_form, _WeakSystem

    data = field_data("burgers", noise=0.01, seed=0)
    settings = PDESettings()
    system = _WeakSystem(data, settings, {}, "u", ["u", "u_x", "u_xx"])
    rough = FieldEquation("u", "-0.99*u*u_x + 0.101*u_xx", None, [], 0.05, [])
    [equation], message, applied = _refit_free_form(data, parse_known(data, settings), [rough], {"u": system},
                                                    lambda m: None)
    assert applied and message.startswith("trajectory refit:")
    exact, err = lib.compare_with_truth(found(equation), BURGERS)
    assert exact and err < 4e-4  # the same maximum-likelihood fit as from the weak form: 3.2e-4
    assert equation.residual < 0.01 and all(t.std is not None and t.std > 0 for t in equation.terms)


def test_few_noisy_snapshots_of_fisher_kpp_give_its_hidden_term():
    """5 snapshots x 32 sensors at 1 % noise: integrating from each noisy snapshot, the true
    u - u^2 blows up where noise sits below the unstable u = 0 (the search then returned a
    bounded sin(...) formula); fitted through every snapshot with its initial state, the
    library model u - u^2 has the lowest BIC, ahead of that formula and of u - u^3."""
    from discover.pde.fit import FieldEquation, parse_known
    from discover.pde.free_form import _choose_by_snapshot_fit

    d = simulate("fisher_kpp", noise=0.01, seed=0, snapshots=5, sensors=32)
    arrays = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
    data = fields_from_arrays(arrays, {"periodic": True}, fields=["u"])
    known = parse_known(data, PDESettings(known={"u": "0.1*u_xx"}))
    searched = FieldEquation("u", "-2*u**3 + 1.795*u**2 + u*sin(6.4286*u) - u**2*sin(6.4286*u)", "0.1*u_xx",
                             [], 0.1, [])
    chosen, report, last = _choose_by_snapshot_fit(data, known, searched)
    exact, err = lib.compare_with_truth(found(chosen), u - u**2)
    assert exact and err < 0.01, chosen.rhs  # measured 3.3e-3
    bic = {frozenset(lib.coefficients_by_monomial(lib.parse_expression(m["rhs"], ["u"], ["x"]))): m["bic"]
           for m in report["models"]}
    winner = bic.pop(frozenset({u, u**2}))
    # the other library models whose fit is finite (u^2 or u^3 alone blow up) and the search's formula
    assert len(bic) >= 4 and winner < min(bic.values())
    assert bic[frozenset({u, u**3})] > winner + 20  # u - u^3 is clearly worse
    assert any("sin" in m["rhs"] for m in report["models"])
    assert 0 < chosen.residual < 0.05
    assert all(1e-4 < t.std < 0.05 for t in chosen.terms), [(t.term, t.coefficient, t.std) for t in chosen.terms]
    # the fitted state at the last snapshot: the data without its noise (std about 0.006)
    assert last.shape == (1, 32) and np.sqrt(np.mean((last[0] - d["u"][-1]) ** 2)) < 0.012


def test_the_solver_without_the_snapshot_fit_keeps_the_searchs_formula():
    from discover.pde.free_form import run_method

    d = simulate("allen_cahn", noise=0.01, seed=0, snapshots=5, sensors=32)
    arrays = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
    data = fields_from_arrays(arrays, {"periodic": True}, fields=["u"])
    fit, extra = run_method("solver", data, PDESettings(known={"u": "0.01*u_xx"}, trajectory=False), time_limit=3)
    assert set(extra["u"]) == {"stable_past_data"} and not fit.refined
    assert all(t.std is None for t in fit.equations[0].terms)  # the search's constants, no fit spreads


def test_the_snapshot_fit_stops_at_its_deadline():
    """Past the deadline no model is fitted (``--method solver`` kept fitting for minutes
    past ``--time-limit`` on 256-point snapshots): the search's equation stays and the
    report says why."""
    import time

    from discover.pde.fit import FieldEquation, parse_known
    from discover.pde.free_form import _choose_by_snapshot_fit

    d = simulate("fisher_kpp", noise=0.01, seed=0, snapshots=5, sensors=32)
    arrays = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
    data = fields_from_arrays(arrays, {"periodic": True}, fields=["u"])
    known = parse_known(data, PDESettings(known={"u": "0.1*u_xx"}))
    searched = FieldEquation("u", "u - u**2", "0.1*u_xx", [], 0.1, [])
    started = time.monotonic()
    chosen, report, last = _choose_by_snapshot_fit(data, known, searched, deadline=started)
    assert time.monotonic() - started < 5
    assert chosen is searched and last is None
    assert report == {"skipped": "the time limit stopped 7 of 7 fits"}


def test_an_interrupt_stops_the_snapshot_fit_and_keeps_the_searchs_equation(monkeypatch):
    """Ctrl-C during the fits through the snapshots ends them, like the deadline: the
    result (here the search's equation) is still returned, and so written."""
    from discover.pde import trajectory
    from discover.pde.fit import FieldEquation, parse_known
    from discover.pde.free_form import _choose_by_snapshot_fit

    d = simulate("fisher_kpp", noise=0.01, seed=0, snapshots=5, sensors=32)
    arrays = {k: v for k, v in d.items() if isinstance(v, np.ndarray)}
    data = fields_from_arrays(arrays, {"periodic": True}, fields=["u"])
    known = parse_known(data, PDESettings(known={"u": "0.1*u_xx"}))
    searched = FieldEquation("u", "u - u**2", "0.1*u_xx", [], 0.1, [])
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(trajectory, "fit_snapshots", interrupted)
    chosen, report, last = _choose_by_snapshot_fit(data, known, searched)
    assert len(calls) == 1 and chosen is searched and last is None
    assert report == {"skipped": "an interrupt stopped 7 of 7 fits"}
