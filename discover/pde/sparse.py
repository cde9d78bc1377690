"""Sparse regression ``b ≈ G w`` with few nonzero ``w``: thresholded least squares with
an automatic threshold, and bootstrap ensembles for the coefficients' uncertainty.

``G`` is ``(K, J)``: one column per library term, one row per equation (a grid point in
the strong form, a test function in the weak form); ``b`` is ``(K,)``, the time
derivative (minus any known part).

Thresholding is on each term's *relative importance* ``|w_j| ‖G_j‖ / ‖b‖`` (scale-free,
so terms of different magnitudes are comparable).  For one threshold ``λ``, sequential
thresholding (:func:`stlsq`) refits least squares on the terms with
``λ <= importance <= 1/λ`` until the set stops changing (MSTLS, Messenger & Bortz 2021).
Candidate supports are those of a log grid of ``λ`` and every nested support reached from
them by backward elimination (collinear terms such as ``u, u², u³`` on ``[0, 1]`` can keep
each other above every threshold).  The winner minimises

    L(w) = log(max(‖G w - b‖ / ‖b‖, 1e-9)) + 0.2 ‖w‖₀:

each term must lower the residual by about 22 % to be kept, and below a relative residual
of 1e-9 every model is exact and the sparsest wins.  (WSINDy's own loss,
``‖G (w - w_LS)‖ / ‖G w_LS‖ + ‖w‖₀ / J``, lets a one-term model that explains 85 % of a
seven-term system win, as it did on λ–ω clean data.)  Each distinct support met on the
way is kept as a ranked alternative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_THRESHOLDS = np.logspace(-4, 0, 64)
DEFAULT_BOOTSTRAP = 64


@dataclass(frozen=True)
class SparseFit:
    """The chosen coefficients ``w`` (J,), its threshold and loss, the relative residual
    ``‖G w - b‖ / ‖b‖``, and the alternatives as ``(loss, residual, w)`` by loss."""

    coefficients: np.ndarray
    threshold: float
    loss: float
    residual: float
    alternatives: list[tuple[float, float, np.ndarray]]


def lstsq_on(G: np.ndarray, b: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Least squares on the columns in ``keep`` (column-normalised for conditioning)."""
    w = np.zeros(G.shape[1])
    if keep.any():
        columns = G[:, keep]
        norms = np.linalg.norm(columns, axis=0)
        norms[norms == 0] = 1.0
        solution = np.linalg.lstsq(columns / norms, b, rcond=None)[0]
        w[keep] = solution / norms
    return w


def importance(G: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``|w_j| ‖G_j‖ / ‖b‖`` per term."""
    return np.abs(w) * np.linalg.norm(G, axis=0) / max(np.linalg.norm(b), np.finfo(float).tiny)


def stlsq(G: np.ndarray, b: np.ndarray, threshold: float, max_iterations: int = 50) -> np.ndarray:
    """Sequentially thresholded least squares at relative importance ``threshold``."""
    keep = np.ones(G.shape[1], dtype=bool)
    w = lstsq_on(G, b, keep)
    for _ in range(max_iterations):
        weight = importance(G, b, w)
        new_keep = keep & (weight >= threshold) & (weight <= 1.0 / threshold)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
        w = lstsq_on(G, b, keep)
    return w


def compressed(G: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An equivalent ``(J+1, J)`` system: with ``G = Q R`` (reduced QR) and ``c = Qᵀ b``,
    ``Ĝ = [R; 0]`` and ``b̂ = [c; ‖b - Q c‖]`` give ``‖Ĝ w - b̂‖ = ‖G w - b‖`` for every
    ``w``, the same column norms and ``‖b̂‖ = ‖b‖``: every subset fit costs ``O(J³)``
    instead of ``O(K J²)``."""
    K, J = G.shape
    if K <= J + 1:
        return G, b
    Q, R = np.linalg.qr(G)
    c = Q.T @ b
    rest = float(np.linalg.norm(b - Q @ c))  # not sqrt(b.b - c.c): that cancels below 1e-8
    return np.vstack([R, np.zeros((1, J))]), np.concatenate([c, [rest]])


def mstls(G: np.ndarray, b: np.ndarray, thresholds: np.ndarray = DEFAULT_THRESHOLDS) -> SparseFit:
    """Thresholded least squares with the support chosen by :func:`selection_loss` (module doc)."""
    G, b = compressed(np.asarray(G, dtype=np.float64), np.asarray(b, dtype=np.float64))
    best = None
    seen: dict[bytes, tuple[float, float, np.ndarray]] = {}
    candidates = [(float(t), stlsq(G, b, t)) for t in np.sort(np.asarray(thresholds, dtype=float))]
    # Collinear terms (u, u^2, u^3 on [0, 1]) can keep each other above any threshold:
    # backward elimination also offers every nested subset of the path's supports.
    starts = {(w != 0).tobytes(): (threshold, w) for threshold, w in reversed(candidates)}
    for threshold, w in starts.values():
        candidates += [(threshold, v) for v in backward_elimination(G, b, w != 0)]
    for threshold, w in candidates:
        loss = selection_loss(G, b, w)
        key = (w != 0).tobytes()
        if key in seen and loss >= seen[key][0]:
            continue
        seen[key] = (float(loss), relative_residual(G, b, w), w)
        if best is None or loss < best[0] - 1e-12:
            best = (float(loss), threshold, w)
    alternatives = sorted(seen.values(), key=lambda item: item[0])
    loss, threshold, w = best
    return SparseFit(w, threshold, loss, relative_residual(G, b, w), alternatives)


#: Each term must lower the relative residual by this log-factor (exp(0.2) = 22 %) to be kept.
TERM_PENALTY = 0.2
#: Relative residuals below this are all "exact": the sparsest such model wins.
EXACT_RESIDUAL = 1e-9


def selection_loss(G: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    """``log(max(‖G w - b‖ / ‖b‖, EXACT_RESIDUAL)) + TERM_PENALTY · ‖w‖₀``."""
    r = max(relative_residual(G, b, w), EXACT_RESIDUAL)
    return float(np.log(r) + TERM_PENALTY * np.count_nonzero(w))


def backward_elimination(G: np.ndarray, b: np.ndarray, support: np.ndarray) -> list[np.ndarray]:
    """Least-squares fits on nested supports: from ``support``, repeatedly drop the term
    whose removal raises the residual least, down to one term."""
    keep = support.copy()
    out = []
    while keep.sum() > 1:
        best = None
        for j in np.flatnonzero(keep):
            trial = keep.copy()
            trial[j] = False
            w = lstsq_on(G, b, trial)
            rss = float(np.sum((G @ w - b) ** 2))
            if best is None or rss < best[0]:
                best = (rss, trial, w)
        keep = best[1]
        out.append(best[2])
    return out


def relative_residual(G: np.ndarray, b: np.ndarray, w: np.ndarray) -> float:
    return float(np.linalg.norm(G @ w - b) / max(np.linalg.norm(b), np.finfo(float).tiny))


@dataclass(frozen=True)
class Ensemble:
    """Bootstrap statistics of the coefficients: ``samples`` (B, J), ``inclusion`` (J,)
    the fraction of resamples keeping each term, ``std`` (J,) over the resamples that
    keep it (0 where none do)."""

    samples: np.ndarray
    inclusion: np.ndarray
    std: np.ndarray


def bootstrap(G: np.ndarray, b: np.ndarray, threshold: float, n_resamples: int = DEFAULT_BOOTSTRAP,
              seed: int = 0) -> Ensemble:
    """Refit at ``threshold`` on ``n_resamples`` row resamples (with replacement)."""
    rng = np.random.default_rng(seed)
    K = G.shape[0]
    samples = np.empty((n_resamples, G.shape[1]))
    for i in range(n_resamples):
        rows = rng.integers(0, K, K)
        samples[i] = stlsq(*compressed(G[rows], b[rows]), threshold)
    kept = samples != 0
    inclusion = kept.mean(axis=0)
    std = np.zeros(G.shape[1])
    for j in range(G.shape[1]):
        if kept[:, j].sum() > 1:
            std[j] = samples[kept[:, j], j].std(ddof=1)
    return Ensemble(samples, inclusion, std)
