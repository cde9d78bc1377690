"""PDE discovery: the governing equation, or a hidden term, from field data u(t, x).

Modules: ``data`` (reading fields and coordinates), ``derivatives`` (finite differences,
spectral, Savitzky–Golay), ``weak`` (test functions and weak-form integrals),
``library`` (candidate terms), ``sparse`` (thresholded ridge regression with ensembles),
``simulate`` (pseudo-spectral ETDRK4 solvers that make data), ``fit`` (the sparse-regression
job: weak and strong), ``free_form`` (the evolve and solver methods), ``trajectory``
(maximum-likelihood refit by simulation), ``gls`` and ``noise`` (the noise's weights),
``result`` (the JSON result), ``plot``.
"""
