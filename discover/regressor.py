"""``discover.Regressor``: symbolic regression as a scikit-learn style estimator.

Parameters keep PySR's names where the concept is the same (``binary_operators``,
``unary_operators``, ``maxsize``, ``niterations``, ``populations``, ``population_size``,
``model_selection``, ``timeout_in_seconds``, ``random_state`` ...).  They are stored as
given in ``__init__``; what ``fit`` learns ends in an underscore:

* ``equations_``: the Pareto front, simplest first, with PySR's columns (complexity,
  loss, score, equation, sympy_format, lambda_format): a ``pandas.DataFrame`` when
  pandas is installed, else an :class:`~discover.equations.EquationTable`;
* ``best_index_``: the row chosen by ``model_selection`` (``get_best()`` returns it);
* ``variable_names_`` (the names in the formulas), ``n_features_in_``,
  ``feature_names_in_`` (only when ``X`` was a DataFrame), ``stats_``.

It is a scikit-learn estimator (``BaseEstimator``, ``RegressorMixin``): it works in
``Pipeline``, ``GridSearchCV`` and ``clone``, and passes every check of
``sklearn.utils.estimator_checks.check_estimator`` (scikit-learn 1.9; tests/test_interop.py).

Example::

    model = Regressor(niterations=40, random_state=0).fit(X, y, variable_names=["x", "t"])
    model.sympy()            # the selected formula
    model.predict(X_new)     # with the selected formula (or index=k for row k)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np
import sympy

from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from search import operators
from search.distributed import search_with
from search.evolve import Progress, SearchSettings
from search.expression import to_sympy
from search.pareto import MODEL_SELECTIONS, Member, scores, select
from search.problem import Problem

from .cluster_options import using_cluster
from .data import dataset_from_arrays
from .equations import CallableEquation, EquationRow, EquationTable, as_equations, columns_by_name
from .fit_limits import MAXSIZE_LIMIT
from .formula import DEFAULT_BATCH_SIZE, DEFAULT_DIMENSIONAL_PENALTY, DEFAULT_LINEAR_SCALING, formula_problem
from .units import fit_dimensions
from .errors import DataError, ParameterError, check_seconds, check_seed
from .result import Equation, FitResult, symbols_for


#: The engine's defaults: the one place they are set.
_ENGINE = SearchSettings()
#: Islands in this process, and on every worker of a cluster, where ``populations`` is None.
DEFAULT_ISLANDS = _ENGINE.populations


def check_range(data, dtype: str = Problem.dtype) -> None:
    """DataError for a column beyond the search's arithmetic (float32: 3.4e38): every
    formula that reads it would be infinite; or one whose nonzero values are all below
    its smallest normal number (1.2e-38), which the search would read as zeros (y = 0)."""
    largest, tiny = float(np.finfo(dtype).max), float(np.finfo(dtype).smallest_normal)
    for name, column in [*zip(data.feature_names, data.X.T), (data.target_name, data.y)]:
        magnitude = np.abs(column)
        top = float(np.max(magnitude))
        if top > largest:
            raise DataError(f"'{name}' reaches {top:.3g}, beyond the search's {dtype} range ({largest:.3g}); "
                            "rescale it (divide it by a power of ten)")
        if 0.0 < top < tiny:
            raise DataError(f"'{name}' is at most {top:.3g}, below the search's {dtype} range (its smallest normal "
                            f"number is {tiny:.3g}); rescale it (multiply it by a power of ten)")


def _is_connection(cluster) -> bool:
    """Whether ``cluster`` is a live ``Client`` or cluster object (not None, a worker count
    or an address): it can be neither deep-copied nor pickled."""
    return not (cluster is None or isinstance(cluster, (int, str)))


def _seed(random_state) -> int:
    """The search's seed from ``random_state``: an integer in ``[0, 2**63)`` as given;
    None a fresh seed from the operating system's entropy (scikit-learn's convention:
    a different result each fit); a ``numpy.random.RandomState`` or ``Generator`` one
    integer drawn from it."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % 2**63)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    return check_seed(random_state, "random_state")


def _check_integer(name: str, value, lowest: int) -> None:
    """:class:`ParameterError` unless ``value`` is an integer >= ``lowest`` (as `discover fit` checks its options)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lowest:
        raise ParameterError(f"{name} must be an integer of at least {lowest}, not {value!r}")


def _check_number(name: str, value, lowest: float) -> float:
    """``value`` as a float; :class:`ParameterError` unless it is a finite number >= ``lowest``."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value < lowest):
        raise ParameterError(f"{name} must be a finite number of at least {lowest:g}, not {value!r}")
    return float(value)


def _operator_names(value) -> tuple[str, ...]:
    """Operator names from a sequence, or from one comma-separated string (``"sin,cos"``, as
    ``--operators``); a bare string is never read letter by letter."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return tuple(value)


class Regressor(RegressorMixin, BaseEstimator):
    """Evolutionary symbolic regression with batched JAX scoring.

    Parameters
    ----------
    binary_operators, unary_operators:
        Operator names from the table in :mod:`search.operators` (``+ - * / pow`` and
        ``neg square cube sqrt exp log sin cos tan tanh abs inv``).
    maxsize:
        Largest complexity (node count, by default) of a formula searched; a final formula
        carries its fitted scale and offset (``a*f + b``), so it may be up to 4 more.
    niterations, ncycles_per_iteration:
        Iterations of the search; each is ``ncycles_per_iteration`` generations on every
        island, then migration and simplification.
    populations, population_size:
        Number of islands and members per island.  ``populations=None`` (default):
        8 islands in this process, and 8 on every worker of a ``cluster`` (the search
        grows with the cluster); a number: that many in all, shared by the workers.
    model_selection:
        ``"best"`` (default), ``"accuracy"`` or ``"score"``, as in PySR; on fewer than
        100 rows ``"best"`` takes the lowest AICc instead (see :func:`search.pareto.select`).
    timeout_in_seconds:
        Stop after this many seconds, a positive number (the front found so far is
        returned); None: no time limit.
    tolerance:
        Stop when ``mse / var(y)`` falls to this value.
    linear_scaling:
        Score ``a * f + b`` with the optimal ``a, b`` (folded into the formula at the end).
    batch_size:
        Rows used while searching (a fixed random subset); the final front is refit on all.
    X_units, y_units:
        Physical units of the features (a list aligned with the columns, or a dict
        ``{name: unit}``) and of the target, as strings such as ``"kg*m/s^2"`` or ``"J"``
        (``"1"`` for dimensionless; :mod:`discover.units`).  With ``X_units`` a
        dimensionally inconsistent formula is penalized (:mod:`search.units`);
        ``y_units`` also checks the output's dimension.
    dimensional_constraint_penalty:
        Loss added to an inconsistent formula, in units of the loss of the best constant
        model (default 1000, as PySR; any value above 1 ranks violators below every
        consistent formula when ``linear_scaling`` is on).
    dimensionless_constants_only:
        Constants are pure numbers (default: a constant may carry any dimension).
    random_state:
        Seed; the same seed, data and iteration limit give the same result (in-process;
        a run on a cluster is not deterministic, migration depends on timing).  None:
        a fresh seed each fit; a ``numpy.random.RandomState`` or ``Generator``: a seed
        drawn from it.
    cluster:
        Run the islands on Dask workers (:mod:`search.distributed`): an int ``N`` (an
        embedded ``LocalCluster`` of ``N`` processes, closed after the fit), a scheduler
        address ``"tcp://host:8786"``, a Dask cluster object or a ``distributed.Client``.
        ``None`` (default): in this process.  Scripts that start local workers need the
        ``if __name__ == "__main__":`` guard (workers are spawned processes).  ``clone``
        (``GridSearchCV``, ``cross_val_score``) shares a live ``Client`` or cluster object
        with the clones; pickling leaves it out.

    Attributes
    ----------
    equations_:
        The Pareto front (see :mod:`discover.equations`): a ``pandas.DataFrame`` with
        PySR's columns when pandas is installed, else an ``EquationTable``.
    best_index_:
        Row of ``equations_`` chosen by ``model_selection``.
    variable_names_:
        Names of the inputs in the formulas: ``variable_names`` if given, else the
        DataFrame's column names, else ``x0, x1, ...`` (sanitized to identifiers).
    n_features_in_:
        Number of input columns.
    feature_names_in_:
        The DataFrame's column names (``ndarray`` of str); only set when ``X`` was a
        DataFrame with string column names (scikit-learn's convention).
    stats_:
        Iterations, evaluations, seconds, what stopped the search, compilations, the
        number of islands run.
    """

    def __init__(
        self,
        binary_operators: tuple[str, ...] = _ENGINE.binary_operators,
        unary_operators: tuple[str, ...] = _ENGINE.unary_operators,
        maxsize: int = _ENGINE.maxsize,
        niterations: int = 40,
        populations: int | None = None,
        population_size: int = _ENGINE.population_size,
        ncycles_per_iteration: int = _ENGINE.ncycles_per_iteration,
        model_selection: str = "best",
        timeout_in_seconds: float | None = None,
        tolerance: float = _ENGINE.tolerance,
        parsimony: float = _ENGINE.parsimony,
        linear_scaling: bool = DEFAULT_LINEAR_SCALING,
        batch_size: int = DEFAULT_BATCH_SIZE,
        X_units: Any = None,
        y_units: Any = None,
        dimensional_constraint_penalty: float = DEFAULT_DIMENSIONAL_PENALTY,
        dimensionless_constants_only: bool = False,
        random_state: int = _ENGINE.random_state,
        cluster: Any = None,
    ):
        self.binary_operators = binary_operators
        self.unary_operators = unary_operators
        self.maxsize = maxsize
        self.niterations = niterations
        self.populations = populations
        self.population_size = population_size
        self.ncycles_per_iteration = ncycles_per_iteration
        self.model_selection = model_selection
        self.timeout_in_seconds = timeout_in_seconds
        self.tolerance = tolerance
        self.parsimony = parsimony
        self.linear_scaling = linear_scaling
        self.batch_size = batch_size
        self.X_units = X_units
        self.y_units = y_units
        self.dimensional_constraint_penalty = dimensional_constraint_penalty
        self.dimensionless_constants_only = dimensionless_constants_only
        self.random_state = random_state
        self.cluster = cluster

    def settings(self) -> SearchSettings:
        """The engine settings for these parameters; bad values raise :class:`ParameterError`
        (a ``UserError`` and ``ValueError``)."""
        if self.model_selection not in MODEL_SELECTIONS:
            raise ParameterError(f"model_selection must be one of {', '.join(MODEL_SELECTIONS)}, not {self.model_selection!r}")
        for name, lowest in (("maxsize", 3), ("batch_size", 1), ("populations", 1), ("population_size", 1),
                             ("niterations", 1), ("ncycles_per_iteration", 1)):
            if name != "populations" or self.populations is not None:
                _check_integer(name, getattr(self, name), lowest)
        seed = _seed(self.random_state)
        if self.maxsize > MAXSIZE_LIMIT:
            raise ParameterError(f"maxsize must be at most {MAXSIZE_LIMIT}, not {self.maxsize}")
        for name in ("parsimony", "tolerance"):
            _check_number(name, getattr(self, name), 0.0)
        binary, unary = _operator_names(self.binary_operators), _operator_names(self.unary_operators)
        try:
            operators.resolve(binary, 2)
            operators.resolve(unary, 1)
        except operators.UnknownOperatorError as exc:
            raise ParameterError(str(exc)) from None
        timeout = self.timeout_in_seconds
        if timeout is not None:
            timeout = check_seconds(timeout, "timeout_in_seconds")  # ParameterError: a ValueError too
        return SearchSettings(
            binary_operators=binary,
            unary_operators=unary,
            maxsize=int(self.maxsize),
            populations=DEFAULT_ISLANDS if self.populations is None else int(self.populations),
            population_size=int(self.population_size),
            niterations=int(self.niterations),
            ncycles_per_iteration=int(self.ncycles_per_iteration),
            parsimony=float(self.parsimony),
            timeout_in_seconds=timeout,
            tolerance=float(self.tolerance),
            random_state=seed,
        )

    def __sklearn_clone__(self):
        """scikit-learn's ``clone``, except that a live ``distributed.Client`` or cluster
        object in ``cluster`` is shared, not deep-copied (it cannot be: it holds a
        connection), as ``cross_val_score`` and ``GridSearchCV`` need."""
        cluster = self.cluster
        if not _is_connection(cluster):
            return super().__sklearn_clone__()
        self.cluster = None
        try:
            copy = super().__sklearn_clone__()
        finally:
            self.cluster = cluster
        copy.cluster = cluster
        return copy

    def __getstate__(self):
        """Pickled without a live ``Client`` or cluster object in ``cluster`` (a connection
        does not travel; the unpickled model predicts, and fits in this process)."""
        state = super().__getstate__()
        return {**state, "cluster": None} if _is_connection(state.get("cluster")) else state

    # -------------------------------------------------------------------- fitting
    def fit(self, X, y, variable_names: list[str] | None = None,
            callback: Callable[[Progress], None] | None = None,
            checkpoint: Callable[["Regressor"], None] | None = None,
            checkpoint_interval: float = 10.0) -> "Regressor":
        """Search for formulas ``y ~ f(X)``; ``X (n_rows, n_features)``, ``y (n_rows,)``.

        ``callback(progress)`` is called after every iteration (see
        :class:`search.evolve.Progress`); ``checkpoint(self)`` at most every
        ``checkpoint_interval`` seconds, with the fitted attributes set to the front so
        far (e.g. to save ``self.to_result()``).  Ctrl-C ends the search early and keeps
        the front found so far.

        ``X`` is validated as scikit-learn does (``validate_data``: sets
        ``n_features_in_``, and ``feature_names_in_`` for a DataFrame); unusable data
        raises :class:`~discover.errors.DataError` (a ``UserError`` and ``ValueError``).
        """
        try:
            X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64, ensure_all_finite=False)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        if X.shape[0] == 1:
            raise DataError("only 1 sample (one data row); a formula fit needs at least 2 rows, and many more to "
                            "tell formulas apart")
        if variable_names is None and hasattr(self, "feature_names_in_"):
            variable_names = [str(name) for name in self.feature_names_in_]
        data = dataset_from_arrays(X, y, feature_names=variable_names)  # our checks: finite, names
        settings = self.settings()
        self.variable_names_ = list(data.feature_names)
        self._n_rows = data.X.shape[0]  # model selection weighs the sample size (search.pareto.select)
        symbols = symbols_for(self.variable_names_)   # once: per name it cost O(columns**2)
        self._symbols = [symbols[n] for n in self.variable_names_]

        def on_checkpoint(front: list[Member], progress: Progress) -> None:
            if not front:  # no finite loss yet: nothing to save
                return
            self._set_front(front, progress, "running")
            checkpoint(self)

        check_range(data)   # the engine's arithmetic
        problem = formula_problem(data.X, data.y, linear_scaling=bool(self.linear_scaling),
                                  **self._unit_arguments(data.feature_names),
                                  batch_size=int(self.batch_size), seed=settings.random_state,
                                  names=self.variable_names_)
        # an embedded cluster's workers run only this search: they get a one-thread JAX CPU pool
        with using_cluster(self.cluster, one_thread_pool=True) as client:  # None: in this process
            result = search_with(client, problem, settings, callback, on_checkpoint if checkpoint else None,
                                 checkpoint_interval, islands_per_worker=self.populations is None)
        if not result.front:  # every loss overflowed: there is nothing to select
            largest = float(np.abs(data.y).max())
            why = (f": the target reaches {largest:.3g}, and squared errors beyond about 1e19 overflow the "
                   "search's float32 arithmetic; rescale y (divide it by a power of ten)" if largest > 1e18 else "")
            raise DataError(f"no formula has a finite loss on this data{why}")
        self._set_front(result.front, result.progress, result.stopped_by)
        self.stats_["compilations"] = result.compilations
        self.stats_["islands"] = result.islands
        self.stats_["seed"] = settings.random_state   # the one drawn where random_state is None or a generator
        if problem.penalty is not None:
            # The finished front keeps each member's penalty in its loss: a selected member
            # that carries it is the best the search found, but not consistent.
            selected = result.front[self.best_index_]
            self.stats_["dimensionally_consistent"] = bool(selected.loss < problem.penalty.amount)
        return self

    def _unit_arguments(self, feature_names: list[str]) -> dict[str, Any]:
        """``formula_problem``'s unit arguments from ``X_units``, ``y_units`` and the
        penalty settings; bad units or a bad penalty raise :class:`UserError`."""
        dimensions = fit_dimensions(self.X_units, self.y_units, feature_names)
        if dimensions is None:
            return {}
        penalty = _check_number("dimensional_constraint_penalty", self.dimensional_constraint_penalty, 0.0)
        return dict(leaf_dimensions=dimensions[0], output_dimension=dimensions[1],
                    dimensionless_constants_only=bool(self.dimensionless_constants_only),
                    dimensional_constraint_penalty=penalty)

    def _set_front(self, front: list[Member], progress: Progress, stopped_by: str) -> None:
        """Set the learned attributes from a (polished) front."""
        self._front = front
        self.best_index_ = select(front, self.model_selection, self._n_rows)
        rows = []
        for member, score in zip(front, scores(front)):
            expr = to_sympy(member.expr, self._symbols)
            text = str(expr)
            rows.append(EquationRow(member.complexity, member.loss, score, text, expr,
                                    CallableEquation(member.expr, self.n_features_in_, text,
                                                     getattr(self, "feature_names_in_", None))))
        self._table = EquationTable(rows, self.best_index_)
        self.equations_ = as_equations(self._table)
        self.stats_ = {
            "iterations": progress.iteration,
            "evaluations": progress.evaluations,
            "seconds": round(progress.elapsed, 3),
            "stopped_by": stopped_by,
        }

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "_table")

    def get_best(self, index: int | None = None) -> EquationRow:
        """The front row chosen by ``model_selection`` (or row ``index``), as PySR's
        ``get_best``: fields complexity, loss, score, equation, sympy_format, lambda_format."""
        check_is_fitted(self)
        if index is None:
            return self._table[self.best_index_]
        if not isinstance(index, (int, np.integer)) or not -len(self._table) <= index < len(self._table):
            raise ParameterError(f"index must be a row of the front, 0 to {len(self._table) - 1}, not {index!r}")
        return self._table[index]

    # ------------------------------------------------------------------- exports
    def sympy(self, index: int | None = None) -> sympy.Expr:
        """The selected formula (or front row ``index``) as a SymPy expression."""
        return self.get_best(index).sympy_format

    def latex(self, index: int | None = None) -> str:
        return sympy.latex(self.sympy(index))

    def jax(self, index: int | None = None) -> Callable:
        """A JAX function ``f(X) -> (n_rows,)`` of the selected formula (or row ``index``);
        ``X`` an array (columns in the fitted order) or a DataFrame (read by column name
        when the model was fitted on one)."""
        import codegen

        fn = codegen.to_jax(self.sympy(index), self.variable_names_)
        names = getattr(self, "feature_names_in_", None)

        def model(X):
            if hasattr(X, "columns"):
                X = columns_by_name(X, names)
            return fn(*[X[:, i] for i in range(self.n_features_in_)])

        return model

    def predict(self, X, index: int | None = None) -> np.ndarray:
        """``f(X)`` with the selected formula (or front row ``index``); shape ``(n_rows,)``."""
        check_is_fitted(self)
        try:
            X = validate_data(self, X, reset=False, dtype=np.float64)
        except ValueError as exc:  # wrong shape or feature names, NaN/inf
            raise DataError(str(exc)) from None
        return self.get_best(index).lambda_format(X)

    def score(self, X, y, sample_weight=None, index: int | None = None) -> float:
        """Coefficient of determination R^2 (``sklearn.metrics.r2_score``) of the
        prediction with the selected formula (or front row ``index``)."""
        from sklearn.metrics import r2_score

        return float(r2_score(y, self.predict(X, index), sample_weight=sample_weight))

    def to_result(self, data: str | None = None, target: str = "y") -> FitResult:
        """The fit as a :class:`discover.result.FitResult` (the JSON result schema)."""
        check_is_fitted(self)
        equations = [Equation(r.complexity, float(r.loss), float(r.score), str(r.sympy_format)) for r in self._table]
        return FitResult(
            data=data, target=target, variables=list(self.variable_names_), settings=self.get_params(),
            equations=equations, selected=self.best_index_, model_selection=self.model_selection,
            stats=self.stats_,
        )
