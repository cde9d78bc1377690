"""Tests for the pseudo-spectral ETDRK4 simulators (discover.pde.simulate) and
``discover simulate``: exact solutions (heat, a KdV soliton, Cole–Hopf Burgers, 2-D
advection, spatially uniform λ–ω), the L/N split, subsampling and noise, files, and every
kind of bad input on the command line."""

from __future__ import annotations

import dataclasses
import json
import math

import h5py
import mpmath
import numpy as np
import pytest
import sympy

from discover.cli import main
from discover.pde import simulate as sim


# --------------------------------------------------------------------------- exact solutions


def test_heat_matches_fourier_decay():
    data = sim.simulate("heat")
    t, x = data["t"][:, None], data["x"][None, :]
    exact = np.exp(-0.1 * t) * np.sin(x) + 0.5 * np.exp(-0.9 * t) * np.cos(3 * x)
    assert data["u"].shape == (101, 128) and data["u"].dtype == np.float64
    np.testing.assert_allclose(data["t"], np.linspace(0, 2, 101), rtol=0, atol=0)
    assert np.max(np.abs(data["u"] - exact)) < 1e-10


def soliton(c, x, t, x0):
    """KdV u_t = -6 u u_x - u_xxx: u = c/2 sech^2(sqrt(c)/2 (x - c t - x0))."""
    return c / 2 / np.cosh(np.sqrt(c) / 2 * (x - c * t - x0)) ** 2


def test_kdv_soliton_moves_at_its_speed():
    c, x0 = 2.0, -6.0
    data = sim.simulate_rhs({"u": "-6*u*u_x - u_xxx"}, [(-20, 20)], 256, t_end=4.0, n_snapshots=3,
                            initial=f"{c / 2}*sech({math.sqrt(c) / 2}*(x - ({x0})))**2", dt=1e-3)
    x = data["x"]
    for t, u in zip(data["t"], data["u"]):
        assert np.max(np.abs(u - soliton(c, x, t, x0))) < 1e-6
    assert abs(x[np.argmax(data["u"][-1])] - (x0 + c * 4.0)) < 0.2  # it moved by c t = 8


def cole_hopf(x, t, nu=0.1, a=0.5, k=1.0):
    """u = -2 nu phi_x / phi with phi = 1 + a e^{-nu k^2 t} cos(k x): u_t = -u u_x + nu u_xx."""
    decay = a * np.exp(-nu * k**2 * t)
    return 2 * nu * k * decay * np.sin(k * x) / (1 + decay * np.cos(k * x))


def test_burgers_matches_cole_hopf():
    initial = "2*0.1*0.5*sin(x)/(1 + 0.5*cos(x))"
    data = sim.simulate_rhs({"u": "-u*u_x + 0.1*u_xx"}, [(0, 2 * np.pi)], 64, 3.0, 4, initial, dt=0.01)
    exact = cole_hopf(data["x"][None, :], data["t"][:, None])
    assert np.max(np.abs(data["u"] - exact)) < 1e-8 * np.max(np.abs(exact))
    assert data["case"] == "custom" and data["rhs"] == {"u": "-u*u_x + 0.1*u_xx"}


@pytest.mark.parametrize("axis", ["x", "y"])
def test_burgers_along_each_axis_of_a_2d_grid(axis):
    """The nonlinear part's derivatives along the full-FFT axis (x) and the rfft axis (y)."""
    n = {"x": (64, 8), "y": (8, 64)}[axis]
    data = sim.simulate_rhs({"u": f"-u*u_{axis} + 0.1*u_{axis}{axis}"}, [(0, 2 * np.pi)] * 2, n, 2.0, 3,
                            f"0.1*sin({axis})/(1 + 0.5*cos({axis}))", dt=0.01)
    coord = data[axis][None, :, None] if axis == "x" else data[axis][None, None, :]
    exact = cole_hopf(coord, data["t"][:, None, None])
    assert data["u"].shape == (3, *n)
    assert np.max(np.abs(data["u"] - exact)) < 1e-9


def test_advection_in_2d_is_a_shift():
    data = sim.simulate_rhs({"u": "-u_x - 0.5*u_y"}, [(0, 2 * np.pi), (0, 2 * np.pi)], (32, 24), 1.0, 2,
                            "exp(sin(x) + cos(y))", dt=0.1)
    X, Y = np.meshgrid(data["x"], data["y"], indexing="ij")
    assert np.max(np.abs(data["u"][1] - np.exp(np.sin(X - 1.0) + np.cos(Y - 0.5)))) < 1e-10


def test_two_field_linear_rotation():
    """u_t = 0.05 Δu - v, v_t = 0.05 Δv + u: cross-field terms go to N, undealiased."""
    rhs = {"u": "0.05*u_xx + 0.05*u_yy - v", "v": "0.05*(v_xx + v_yy) + u"}
    problem = sim.build_problem(rhs, [(0, 2 * np.pi, 16), (0, 2 * np.pi, 16)])
    assert not problem.dealiased
    data = sim.simulate_rhs(rhs, [(0, 2 * np.pi)] * 2, 16, 2.0, 3, {"u": "sin(x)*cos(2*y)", "v": "0"}, dt=0.01)
    X, Y = np.meshgrid(data["x"], data["y"], indexing="ij")
    t = data["t"][:, None, None]
    mode, decay = np.sin(X) * np.cos(2 * Y), np.exp(-0.05 * 5 * t)
    assert np.max(np.abs(data["u"] - decay * np.cos(t) * mode)) < 1e-9
    assert np.max(np.abs(data["v"] - decay * np.sin(t) * mode)) < 1e-9


def test_lambda_omega_uniform_state():
    """A uniform state: A^2 is logistic, A^2 = 1/(1 + c e^{-2t}), and the phase turns by -∫A^2."""
    small = dataclasses.replace(sim.CASES["lambda_omega"], domain=((-10, 10, 8), (-10, 10, 8)), t_end=2.0,
                                n_snapshots=5, initial={"u": "0.5", "v": "0"}, dt=0.005)
    data = sim.simulate(small)
    t = data["t"]
    c = 1 / 0.25 - 1
    amplitude2 = 1 / (1 + c * np.exp(-2 * t))
    phase = -(t + 0.5 * np.log((1 + c * np.exp(-2 * t)) / (1 + c)))
    assert np.max(np.abs(data["u"] - (np.sqrt(amplitude2) * np.cos(phase))[:, None, None])) < 1e-9
    assert np.max(np.abs(data["v"] - (np.sqrt(amplitude2) * np.sin(phase))[:, None, None])) < 1e-9


# --------------------------------------------------------------------------- machinery


def test_etdrk4_coefficients_match_high_precision():
    mpmath.mp.dps = 60

    def exact(z):
        z = mpmath.mpc(z)
        e = mpmath.exp(z)
        return [(mpmath.exp(z / 2) - 1) / z, (-4 - z + e * (4 - 3 * z + z**2)) / z**3,
                (2 + z + e * (z - 2)) / z**3, (-4 - 3 * z - z**2 + e * (4 - z)) / z**3]

    zs = [1e-9, 1e-3, -0.7, 2.0, -60.0, 3j, -2 + 5j, -1000.0]
    coeffs = sim.etdrk4_coefficients(np.array(zs, dtype=complex), 1.0)
    for i, z in enumerate(zs):
        for name, value in zip(("Q", "f1", "f2", "f3"), exact(z)):
            got = complex(getattr(coeffs, name)[i])
            assert abs(got - complex(value)) <= 1e-13 * abs(complex(value)), (z, name)
    real = sim.etdrk4_coefficients(np.array([0.0, -3.0]), 0.1)
    assert real.Q.dtype == np.float64 and real.E.dtype == np.float64
    np.testing.assert_allclose(real.f1[0], 0.1 / 6, rtol=1e-14)  # phi-functions at z = 0: 1/2, 1/6, ...


def test_linear_terms_go_to_L_and_the_rest_to_N():
    domain = [(-1, 1, 16)]
    problem = sim.build_problem({"u": "0.01*u_xx + u*(1 - u)"}, domain)
    k = np.pi * np.arange(9)
    np.testing.assert_allclose(problem.L[0], 1 - 0.01 * k**2, rtol=1e-14, atol=1e-14)
    assert problem.dealiased and problem.nonlinear is not None
    kdv = sim.build_problem({"u": "-6*u*u_x - u_xxx"}, domain)
    k_odd = k.copy()
    k_odd[-1] = 0  # Nyquist: odd derivatives vanish there
    np.testing.assert_allclose(kdv.L[0], 1j * k_odd**3, atol=1e-12)
    heat = sim.build_problem({"u": "pi*u_xx/10"}, domain)
    assert heat.nonlinear is None
    np.testing.assert_allclose(heat.L[0], -np.pi / 10 * k**2)


def test_dealias_mask_keeps_a_third_of_the_modes_each_side():
    mask = sim._dealias_mask([(0, 1, 12), (0, 1, 12)])
    assert mask.shape == (12, 7)
    assert mask[4, 4] and not mask[5, 0] and not mask[0, 5] and mask[-4, 0] and not mask[-5, 0]


@pytest.mark.parametrize("rhs, message", [
    ({"u": "-u*u_x + 0.1*u_yy"}, "u_yy"),
    ({"u": "-w*u_x"}, "unknown name(s) w"),
    ({"u": "-u*u_x +"}, "cannot parse"),
    ({"u": "f(u)"}, "f()"),
    ({"u": "u_t"}, "u_t"),
    ({"u_x": "u"}, "field name"),
])
def test_bad_right_hand_sides_are_clear_errors(rhs, message):
    with pytest.raises(sim.SimulationInputError, match=None) as info:
        sim.build_problem(rhs, [(0, 1, 16)])
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)


def test_registered_cases_are_consistent():
    for name, case in sim.CASES.items():
        sim.validate(case)  # dt divides the snapshot interval, numbers are sane
        steps = sim.steps_per_snapshot(case.interval, case.dt)
        assert steps * case.dt == pytest.approx(case.interval, rel=1e-12)
        assert set(case.rhs) == set(case.fields) == set(case.initial)
        assert np.all(np.isfinite(sim.initial_values(case)))
        sim.build_problem(case.rhs, case.domain)
        if case.hidden:
            for f in case.fields:
                total = sympy.sympify(case.known[f]) + sympy.sympify(case.hidden[f])
                assert sympy.expand(total - sympy.sympify(case.rhs[f])) == 0, name
    assert set(sim.CASES) >= {"heat", "burgers", "kdv", "ks", "allen_cahn", "fisher_kpp", "lambda_omega"}
    assert sim.CASES["lambda_omega"].fields == ("u", "v")


def test_automatic_time_step_is_accurate():
    dt = sim.choose_dt(sim.build_problem({"u": "-u*u_x + 0.1*u_xx"}, [(0, 2 * np.pi, 64)]),
                       sim.initial_values(sim.custom_case({"u": "u_xx"}, [(0, 2 * np.pi)], 64, 1, 2,
                                                          "0.1*sin(x)/(1 + 0.5*cos(x))")), 0.5)
    assert (0.5 / dt) == round(0.5 / dt)
    data = sim.simulate_rhs({"u": "-u*u_x + 0.1*u_xx"}, [(0, 2 * np.pi)], 64, 1.0, 3,
                            "0.1*sin(x)/(1 + 0.5*cos(x))")
    exact = cole_hopf(data["x"][None, :], data["t"][:, None])
    assert np.max(np.abs(data["u"] - exact)) < 1e-9


# --------------------------------------------------------------------------- subsampling and noise


def test_noise_level_is_relative_to_rms():
    clean = sim.simulate("heat")
    noisy = sim.simulate("heat", noise=0.1, seed=3)
    rms = np.sqrt(np.mean(clean["u"] ** 2))
    assert np.std(noisy["u"] - clean["u"]) / rms == pytest.approx(0.1, rel=0.05)
    assert noisy["noise"] == 0.1 and noisy["seed"] == 3 and clean["noise"] == 0.0


def test_noise_is_deterministic_per_seed():
    a = sim.simulate("heat", noise=0.01, seed=7)
    b = sim.simulate("heat", noise=0.01, seed=7)
    c = sim.simulate("heat", noise=0.01, seed=8)
    assert np.array_equal(a["u"], b["u"]) and not np.array_equal(a["u"], c["u"])


def test_snapshots_and_sensors_subsample_a_uniform_grid():
    clean = sim.simulate("heat")
    data = sim.simulate("heat", snapshots=5, sensors=32)
    assert data["u"].shape == (5, 32)
    np.testing.assert_array_equal(data["t"], [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_array_equal(data["x"], clean["x"][::4])
    np.testing.assert_array_equal(data["u"], clean["u"][::25, ::4])
    odd = sim.simulate("heat", snapshots=3)
    np.testing.assert_array_equal(odd["t"], [0.0, 1.0, 2.0])


def test_sensors_in_2d_apply_to_both_axes():
    small = dataclasses.replace(sim.CASES["lambda_omega"], domain=((-10, 10, 16), (-10, 10, 8)), t_end=0.1,
                                n_snapshots=3, dt=0.05)
    data = sim.simulate(small, sensors=4, noise=0.01)
    assert data["u"].shape == data["v"].shape == (3, 4, 4)
    assert data["x"].size == data["y"].size == 4


@pytest.mark.parametrize("kwargs, message", [
    ({"noise": -0.1}, "noise"), ({"noise": math.nan}, "noise"),
    ({"snapshots": 1}, "between 2 and 101"), ({"snapshots": 102}, "between 2 and 101"),
    ({"sensors": 7}, "must divide the 128"), ({"sensors": 1}, "must divide"),
    ({"snapshots": 4}, "cannot be evenly spaced"), ({"snapshots": 7}, "choose one of 2, 3, 5, 6, 11"),
])
def test_bad_options_are_refused_before_simulating(kwargs, message):
    with pytest.raises(sim.SimulationInputError) as info:
        sim.simulate("heat", **kwargs)
    assert message in str(info.value)


def test_unknown_case_lists_the_valid_ones():
    with pytest.raises(sim.SimulationInputError, match="burgers, kdv"):
        sim.simulate("navier_stokes")


# --------------------------------------------------------------------------- files


def test_hdf5_round_trip(tmp_path):
    data = sim.simulate("heat", noise=0.01, snapshots=11, seed=5)
    data = {**data, "case": "allen_cahn", "known": {"u": "0.01*u_xx"}, "hidden": {"u": "u - u**3"}}
    path = tmp_path / "out.h5"
    path.write_bytes(b"old content")  # replaced whole, never half-overwritten
    sim.write_h5(path, data)
    with h5py.File(path, "r") as f:
        assert set(f) == {"t", "x", "u"}
        np.testing.assert_array_equal(f["u"][()], data["u"])
        np.testing.assert_array_equal(f["t"][()], data["t"])
        attrs = dict(f.attrs)
    assert attrs["case"] == "allen_cahn" and attrs["equation"] == "u_t = 0.1*u_xx"
    assert json.loads(attrs["rhs"]) == {"u": "0.1*u_xx"}
    assert json.loads(attrs["known"]) == {"u": "0.01*u_xx"} and json.loads(attrs["hidden"]) == {"u": "u - u**3"}
    assert attrs["noise"] == 0.01 and attrs["seed"] == 5 and bool(attrs["periodic"]) is True
    assert [p.name for p in tmp_path.iterdir()] == ["out.h5"]  # no temporary file left behind


def test_npz_round_trip(tmp_path):
    data = sim.simulate("heat", snapshots=5)
    sim.write(tmp_path / "out.npz", data)
    with np.load(tmp_path / "out.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["u"], data["u"])
        assert str(z["case"]) == "heat" and json.loads(str(z["hidden"])) == {}
        assert float(z["noise"]) == 0.0 and bool(z["periodic"])


# --------------------------------------------------------------------------- command line


def test_cli_writes_a_case(tmp_path, capsys):
    path = tmp_path / "heat.h5"
    assert main(["simulate", "heat", "-o", str(path), "--noise", "0.01", "--snapshots", "11", "--sensors", "64"]) == 0
    out = capsys.readouterr().out
    assert "heat" in out and "(11, 64)" in out and str(path) in out
    with h5py.File(path, "r") as f:
        assert f["u"].shape == (11, 64) and f.attrs["noise"] == 0.01


def test_cli_custom(tmp_path, capsys):
    path = tmp_path / "custom.h5"
    rc = main(["simulate", "custom", "--rhs", "u_t = -u*u_x + 0.1*u_xx", "--domain=0,6.283185307179586",
               "--points", "64", "--t-end", "1", "--snapshots", "3", "--ic", "0.1*sin(x)/(1 + 0.5*cos(x))",
               "--dt", "0.01", "-o", str(path)])
    assert rc == 0
    with h5py.File(path, "r") as f:
        u, x, t = f["u"][()], f["x"][()], f["t"][()]
        assert json.loads(f.attrs["rhs"]) == {"u": "-u*u_x + 0.1*u_xx"}
    assert np.max(np.abs(u - cole_hopf(x[None, :], t[:, None]))) < 1e-8


def test_cli_list(capsys):
    assert main(["simulate", "--list"]) == 0
    out = capsys.readouterr().out
    for name in sim.CASES:
        assert name in out


CUSTOM = ["custom", "--domain=0,1", "--points", "16", "--t-end", "1", "-o", "{out}"]


@pytest.mark.parametrize("argv, message", [
    (["navier_stokes", "-o", "{out}"], "unknown case 'navier_stokes'; valid cases: heat, burgers"),
    (["heat", "--noise", "-0.5", "-o", "{out}"], "noise must be a non-negative number"),
    (["heat", "--snapshots", "1", "-o", "{out}"], "snapshots must be between 2 and 101"),
    (["heat", "--snapshots", "500", "-o", "{out}"], "snapshots must be between 2 and 101"),
    (["heat", "--sensors", "7", "-o", "{out}"], "sensors must divide the 128 grid points along x"),
    (["heat", "--seed", "-1", "-o", "{out}"], "seed must be an integer from 0"),
    (["heat", "--seed", "18446744073709551616", "-o", "{out}"], "seed must be an integer from 0"),
    (["custom", "--domain=-8,8", "--t-end", "10", "--points", "32", "--ic", "exp(-x**2)", "--rhs", "u_t = -0.1*u_xx",
      "-o", "{out}"], "ill-posed equation"),
    (["custom", "--domain=0,6.283185307179586", "--t-end", "1", "--points", "32", "--ic", "sin(x)", "--rhs", "t_t = t_xx", "-o", "{out}"],
     "not a coordinate's name"),
    (["custom", "--domain=0,6.283185307179586", "--t-end", "1", "--points", "32", "--ic", "sin(x)", "--rhs", "u_t = Derivative(u, x, 2)",
      "-o", "{out}"], "write derivatives by name"),
    (["custom", "--domain=0,6.283185307179586", "--t-end", "1", "--points", "32", "--ic", "sin(x)", "--rhs", "u_t = log(u)", "-o", "{out}"],
     "not finite at the initial condition"),
    (["custom", "--domain=0,6.283185307179586", "--t-end", "10", "--points", "32", "--ic", "0.5", "--rhs", "u_t = u**2", "-o", "{out}"],
     "blew up (inf/nan) by t = 2.1"),
    (["heat", "-o", "{tmp}/missing/out.h5"], "does not exist"),
    (["heat", "-o", "{tmp}"], "is a directory"),
    (["heat", "-o", "{tmp}/out.csv"], ".npz"),
    (["heat"], "-o PATH"),
    ([], "give a case"),
    (["heat", "--rhs", "u_t = u_xx", "-o", "{out}"], "only goes with 'custom'"),
    ([*CUSTOM, "--rhs", "u_t = -u*u_x +", "--ic", "sin(x)"], "cannot parse right-hand side"),
    ([*CUSTOM, "--rhs", "u_t = u_xx", "--ic", "sin(x"], "cannot parse initial condition"),
    ([*CUSTOM, "--rhs", "u_t = u_xx", "--ic", "log(x - 5)"], "not finite"),
    ([*CUSTOM, "--rhs", "u_t = u_xx/0", "--ic", "sin(x)"], "non-finite value zoo, a division by zero"),
    ([*CUSTOM, "--rhs", "u_t = u_xx", "--ic", "sin(x)", "--dt", "1e-300"], "1e+300 steps (at most 1e+07)"),
    ([*CUSTOM, "--rhs", "u_t = u_xx", "--ic", "sin(x)", "--t-end", "1e9", "--snapshots", "3"],
     "give more snapshots or a time step (--dt)"),
    ([*CUSTOM, "--rhs", "u_t = u_xx", "--ic", "sin(x)", "--points", "200000000"], "the record would take 150.5 GiB"),
    ([*CUSTOM, "--rhs", "u_t = u_xx", "--ic", "I*x"], "not real"),
    ([*CUSTOM, "--rhs", "u_t = u_xx + u_yy", "--ic", "x"], "u_yy"),
    ([*CUSTOM, "--rhs", "u = u_xx", "--ic", "x"], "u_t = ..."),
    (["custom", "--domain=1,0", "--points", "16", "--t-end", "1", "--rhs", "u_t = u_xx", "--ic", "x", "-o", "{out}"],
     "need LOW < HIGH"),
    ([*CUSTOM[:3], "15", "--t-end", "1", "--rhs", "u_t = u_xx", "--ic", "x", "-o", "{out}"], "even"),
    (["custom", "--rhs", "u_t = u_xx", "-o", "{out}"], "needs --domain, --points, --t-end, --ic"),
])
def test_cli_errors_are_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "out.h5"
    argv = [a.replace("{out}", str(out)).replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("discover simulate: error:") and "\n" not in err
    assert message in err
    assert not out.exists()


# --------------------------------------------------------------------------- the benchmark cases (slow)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in sim.CASES if n != "heat"])
def test_benchmark_case_runs_and_conserves_what_it_should(name):
    case = sim.CASES[name]
    data = sim.simulate(name)
    for f in case.fields:
        assert data[f].shape == (case.n_snapshots, *(n for _, _, n in case.domain))
        assert np.all(np.isfinite(data[f]))
    if name in ("burgers", "kdv", "ks"):  # conservation form: the mean is an invariant
        means = data["u"].mean(axis=1)
        assert np.max(np.abs(means - means[0])) < 1e-12


def test_a_non_periodic_initial_condition_gets_a_note(tmp_path, capsys):
    """The simulator wraps fields around: an initial condition whose ends differ (``x`` on
    [0, 2π), ``sin(x)`` on [0, 6.28)) starts with a jump, and the command says so; a
    periodic one gets no note."""
    from discover import cli
    argv = ["simulate", "custom", "--t-end", "0.5", "--points", "16", "--rhs", "u_t = 0.1*u_xx", "-o", str(tmp_path / "a.h5")]
    assert cli.main([*argv, "--domain=0,6.283185307179586", "--ic", "x"]) == 0
    assert "not periodic in x on [0, 6.28319): its values at the two ends differ by up to 6.28" in capsys.readouterr().err
    assert cli.main([*argv, "--domain=0,6.28", "--ic", "sin(x)"]) == 0
    assert "differ by up to 0.00319" in capsys.readouterr().err
    assert cli.main([*argv, "--domain=0,6.283185307179586", "--ic", "sin(x)"]) == 0
    assert "note" not in capsys.readouterr().err


@pytest.mark.parametrize("rhs, ill_posed", [
    ("-0.1*u_xx", True),                       # backward diffusion
    ("0.01*u - 0.1*u_xx", True),
    ("-u*u_x - u_xx - u_xxxx", False),         # Kuramoto–Sivashinsky: growth peaks at |k| = 0.7
    ("0.5*u + u_xx - u_xxxx", False),          # Swift–Hohenberg-like
    ("0.01*u + 0.1*u_xx", False),              # uniform growth, diffusion
    ("-u_xxx", False),                         # dispersion: no growth
])
def test_ill_posed_linear_parts_are_refused(rhs, ill_posed):
    case = sim.custom_case({"u": rhs}, [(0.0, 32 * np.pi)], 128, 100.0, 11, {"u": "cos(x/16)"})
    problem = sim.build_problem(case.rhs, case.domain)
    if ill_posed:
        with pytest.raises(sim.SimulationInputError, match="ill-posed"):
            sim._check_well_posed(problem, case)
    else:
        sim._check_well_posed(problem, case)
