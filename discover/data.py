"""Load a table of inputs ``X`` and a target ``y`` from HDF5, CSV or NPZ, and validate it.

Every path ends in one place, :func:`_make_dataset`, which checks what all formats share
(numeric dtype, shapes, matching lengths, at least one row and one feature, all values
finite, unique names) and returns a :class:`Dataset` of read-only float64 arrays.

Formats are recognised by content, not by extension:

* **HDF5** (starts with ``\\x89HDF\\r\\n\\x1a\\n``), two layouts:

  (a) a 2-D dataset ``X`` (rows x features) and a 1-D dataset ``y``.  Feature names come
      from an attribute ``feature_names`` (or ``names``) on ``X``, else ``x0, x1, ...``;
      the target name from the attribute ``name`` on ``y``, else ``"y"``.
  (b) one 1-D dataset per column, at the root or inside the root's only group.  The
      target is ``target`` if given, else the dataset named ``y``; otherwise an error
      lists the names and asks for ``--target``.  Columns keep the file's order (the
      creation order when the file tracks it, otherwise alphabetical).

  Physical units, when the file has them, are read into ``Dataset.units`` (unchecked
  strings; :mod:`discover.units` parses them): an attribute ``units`` on each column
  dataset in layout (b); in layout (a) an attribute ``units`` on ``X`` (one string per
  column) and one on ``y``.

* **NPZ** (a zip of ``.npy`` members): arrays ``X`` and ``y`` (optional ``feature_names``),
  or one 1-D array per column as in HDF5 layout (b).
* **CSV** (anything else that is UTF-8 text): a header row of names, then numeric rows.
  Separator ``,`` (or tab or ``;`` if the header has no comma).  Lines starting with
  ``#`` and blank lines are skipped; an empty cell is a missing value (reported like
  NaN).  The target is ``target``, else the column ``y``, else the last column.

Variable names become symbols in formulas, so a name that is not a valid Python
identifier, or is a Python keyword, is sanitized (:func:`sanitize_names`): every
character that cannot appear in an identifier becomes ``_``, and a name that still cannot
start an identifier (leading digit, keyword, empty) or is the name of a SymPy constant
(``E``, ``pi``, ``I``: a formula could not tell them apart) gets a leading ``_``:
``"mass (kg)" -> "mass__kg_"``, ``"2theta" -> "_2theta"``, ``"lambda" -> "_lambda"``, ``"E" -> "_E"``.
A sanitized name that collides with another gets ``_2``, ``_3``, ...  ``target`` may be
given as the original or the sanitized name.

Bad input raises :class:`~discover.errors.DataError` with one line saying what is wrong
and what to do; errors from :func:`load_dataset` start with the path.
"""

from __future__ import annotations

import codecs
import csv
import keyword
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import h5py
import numpy as np

from .errors import DataError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with members; an empty zip

# A column: (name, array).  A table: columns in file order.  Raw parts of a dataset:
# (X, y, feature_names, target_name), not yet validated.
Column = tuple[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A validated table: ``X`` is (n_rows, n_features), ``y`` is (n_rows,).

    Both arrays are float64, C-contiguous, finite and read-only.  ``feature_names`` (one
    per column of ``X``) and ``target_name`` are unique valid Python identifiers.
    ``path`` is the file it was loaded from, as given, or ``None`` for in-memory arrays.
    ``units`` maps column names (features and target) to the unit strings the file
    declares (HDF5 attributes ``units``), unparsed; empty when it declares none.
    Instances compare by identity (``eq=False``: array equality has no single truth value).
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_name: str
    path: str | None
    units: dict[str, str] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]


# --------------------------------------------------------------------------- public API


def load_dataset(path: str | os.PathLike, target: str | None = None) -> Dataset:
    """Load ``path`` (HDF5, NPZ or CSV, recognised by content) into a :class:`Dataset`.

    ``target`` names the column to predict (``--target``); see the module docstring for
    the default in each format.  Raises :class:`DataError` for any unusable input.
    """
    shown = os.fspath(path)
    try:
        kind = _sniff(shown)
        loader = {"hdf5": _load_hdf5, "npz": _load_npz, "csv": _load_csv}[kind]
        try:
            parts = loader(shown, target)
            dataset = _make_dataset(*parts, path=shown)
        except DataError as exc:
            named = {".h5": "hdf5", ".hdf5": "hdf5", ".npz": "npz"}.get(os.path.splitext(shown)[1].lower())
            if named is None or named == kind:
                raise
            # named as HDF5 or NPZ but read by content as another format, which failed too
            raise DataError(f"not an {named.upper()} file (it has no {named.upper()} signature; read as "
                            f"{kind.upper()}: {exc})") from None
        if kind == "hdf5":
            dataset = replace(dataset, units=_hdf5_units(shown, parts[2], parts[3], dataset))
        return dataset
    except DataError as exc:
        raise DataError(f"{shown}: {exc}") from None


def dataset_from_arrays(X, y, feature_names=None, target_name=None) -> Dataset:
    """Validate in-memory data: ``X`` (n_rows, n_features) and ``y`` (n_rows,).

    ``X`` may be a nested list, an ndarray or a pandas-like object with ``.columns``
    (its column labels become the default feature names).  Integers and booleans are
    converted to float64; the arrays are copied.  ``feature_names`` defaults to
    ``x0, x1, ...``.  An unnamed target (``target_name=None``) is called ``y``, or
    ``y_2``, ``y_3``, ... when a feature is already called ``y`` (coordinates x, y, z);
    only a target name given here must differ from the feature names.  Raises
    :class:`DataError` for unusable input.
    """
    if hasattr(X, "columns"):
        labels = list(X.columns)
        if feature_names is None:
            feature_names = [str(label) for label in labels]
        columns = [_numeric(np.asarray(X[label]), f"column '{label}'") for label in labels]
        X = np.column_stack(columns) if columns else np.empty((len(X), 0))
    X = _as_array(X, "X")
    y = _as_array(y, "y")
    if X.ndim == 1:
        raise DataError(
            f"X is 1-D with shape {X.shape}; X must be 2-D (rows x features): "
            "use X.reshape(-1, 1) for a single feature"
        )
    if target_name is None:
        target_name = _unclaimed("y", [] if feature_names is None else [str(name) for name in feature_names])
    return _make_dataset(X, y, feature_names, target_name, path=None)


def _unclaimed(base: str, names: list[str]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... : the first that is not in ``names``."""
    candidate, k = base, 2
    while candidate in names:
        candidate, k = f"{base}_{k}", k + 1
    return candidate


def column_name(name: str, columns: Sequence[str]) -> str:
    """``name`` as one of ``columns`` (sanitized names): as it is, or sanitized (a user may
    give ``"mass (kg)"`` for the column ``mass__kg_``); not checked against ``columns``."""
    return name if name in columns else sanitize_names([name])[0]


def sanitize_names(names: Sequence[str]) -> list[str]:
    """Turn unique ``names`` into unique valid, non-keyword Python identifiers.

    Names that are already valid are kept; others are sanitized as the module docstring
    describes and, on collision, suffixed ``_2``, ``_3``, ...
    """
    taken = {name for name in names if is_symbol_name(name)}
    result = []
    for name in names:
        if is_symbol_name(name):
            result.append(name)
            continue
        base = "".join(c if ("_" + c).isidentifier() else "_" for c in name)
        if not is_symbol_name(base):
            base = "_" + base
        candidate, k = base, 2
        while candidate in taken:
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate)
        result.append(candidate)
    return result


# --------------------------------------------------------------------- shared validation


def _make_dataset(X, y, feature_names, target_name, path) -> Dataset:
    """Check raw parts for every format and build the :class:`Dataset`.

    ``X`` must be 2-D (n_rows, n_features), ``y`` 1-D (n_rows,) (a column (n_rows, 1)
    is accepted and flattened); ``feature_names`` is ``None`` or n_features strings.
    """
    X = _numeric(np.asarray(X), "X")
    y = _numeric(np.asarray(y), f"target '{target_name}'")
    if X.ndim != 2:
        raise DataError(f"X has shape {X.shape}; it must be 2-D (rows x features)")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"target '{target_name}' has shape {y.shape}; it must be 1-D (one value per row)")
    n_rows, n_features = X.shape
    if y.shape[0] != n_rows:
        raise DataError(
            f"X has {n_rows} rows but target '{target_name}' has {y.shape[0]}; "
            "they need one target value per row"
        )
    if n_rows == 0:
        raise DataError("no data rows; the table needs at least one row of values")
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(n_features)]
    names = [str(name) for name in feature_names]
    if n_features == 0:
        raise DataError(
            f"no input columns, only the target '{target_name}'; add at least one feature column"
        )
    if len(names) != n_features:
        raise DataError(f"X has {n_features} columns but {len(names)} feature names were given: {_quoted(names)}")
    all_names = names + [str(target_name)]
    duplicates = sorted({name for name in all_names if all_names.count(name) > 1})
    if duplicates:
        raise DataError(f"duplicate column names {_quoted(duplicates)}; every column needs its own name")
    _check_finite(X, y, all_names)
    symbols = sanitize_names(all_names)
    return Dataset(_frozen(X), _frozen(y), symbols[:-1], symbols[-1], path)


def _numeric(arr: np.ndarray, label: str) -> np.ndarray:
    """Return ``arr`` if its dtype is real numeric (bool, int, float); else DataError."""
    kind = arr.dtype.kind
    if kind in "biuf":
        return arr
    if kind == "c":
        raise DataError(
            f"{label} holds complex numbers; discover fits real data: "
            "store the real and imaginary parts (or magnitude) as separate real columns"
        )
    example = ""
    if kind in "USO" and arr.size:
        first = arr.flat[0]
        example = f", e.g. {(first.item() if isinstance(first, np.generic) else first)!r}"
    raise DataError(f"{label} is not numeric (dtype {arr.dtype}{example}); convert it to numbers")


def _check_finite(X: np.ndarray, y: np.ndarray, names: list[str]) -> None:
    """DataError naming each column with NaN/inf, its count and first row (0-based)."""
    if np.isfinite(X).all() and np.isfinite(y).all():
        return
    columns = list(X.T) + [y]
    bad_rows = np.zeros(y.shape[0], dtype=bool)
    parts = []
    for name, column in zip(names, columns):
        bad = ~np.isfinite(column)
        if bad.any():
            bad_rows |= bad
            parts.append(f"'{name}' in {_rows(bad.sum())} (first at row index {np.argmax(bad)})")
    raise DataError(
        f"missing, NaN or inf values: column {', '.join(parts)}; {bad_rows.sum()} of {_rows(len(bad_rows))} "
        "affected; remove those rows or impute the values"
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _frozen(arr: np.ndarray) -> np.ndarray:
    out = np.array(arr, dtype=np.float64, order="C", copy=True)
    out.flags.writeable = False
    return out


def _as_array(value, label: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise DataError(f"{label} cannot be made into an array ({exc}); rows must all have the same length") from None


#: Names that read back as SymPy's constants: in ``E + E*x`` a column named ``E`` and Euler's
#: number could not be told apart once written, so such columns are sanitized (``_E``).
CONSTANT_NAMES = frozenset({"E", "I", "pi", "oo", "zoo", "nan"})


def is_symbol_name(name: str) -> bool:
    """Whether ``name`` can be a SymPy symbol as written: an identifier, not a Python
    keyword, not the name of a constant (:data:`CONSTANT_NAMES`)."""
    return name.isidentifier() and not keyword.iskeyword(name) and name not in CONSTANT_NAMES


def _quoted(names) -> str:
    return ", ".join(f"'{name}'" for name in names)


# ---------------------------------------------------------------- layouts shared by formats


def _from_columns(columns: list[Column], target: str | None, last_is_default: bool):
    """Raw parts from 1-D columns: pick the target, stack the rest as X (n_rows, n_features).

    Target: ``target`` (original or sanitized name), else ``y``, else the last column if
    ``last_is_default``, else DataError asking for ``--target``.
    """
    names = [name for name, _ in columns]
    for name, arr in columns:
        if arr.ndim != 1:
            raise DataError(
                f"'{name}' has shape {arr.shape}; with one array per column every one must be 1-D "
                "(or store a 2-D X and a 1-D y)"
            )
        _numeric(arr, f"column '{name}'")
    lengths = {len(arr) for _, arr in columns}
    if len(lengths) > 1:
        sizes = ", ".join(f"'{name}' {len(arr)}" for name, arr in columns)
        raise DataError(f"columns have different lengths ({sizes} rows); every column needs one value per row")
    if target is not None:
        index = _find_target(names, target)
    elif "y" in names:
        index = names.index("y")
    elif last_is_default and names:
        index = len(names) - 1
    else:
        raise DataError(f"no column named 'y'; pass --target NAME with one of: {_quoted(names)}")
    features = [arr for i, (_, arr) in enumerate(columns) if i != index]
    n_rows = lengths.pop()
    X = np.column_stack(features) if features else np.empty((n_rows, 0))
    return X, columns[index][1], names[:index] + names[index + 1 :], names[index]


def _find_target(names: list[str], target: str) -> int:
    if target in names:
        return names.index(target)
    symbols = sanitize_names(names) if len(set(names)) == len(names) else names
    if target in symbols:
        return symbols.index(target)
    raise DataError(f"target '{target}' not found; available: {_quoted(names)}")


def _from_matrix(X, y, feature_names, target_name: str, target: str | None):
    """Raw parts from layout (a): ``X`` (n_rows, n_features) and ``y`` (n_rows,)."""
    if target is not None and target not in (target_name, sanitize_names([target_name])[0]):
        shown = _quoted(feature_names or [f"x{i}" for i in range(np.shape(X)[-1])])
        raise DataError(
            f"target '{target}' not found: this file stores X (features {shown}) and the target "
            f"'{target_name}'; omit --target or pass --target {target_name}"
        )
    return X, y, feature_names, target_name


def _as_names(value, label: str) -> list[str]:
    """Strings (or bytes) from an attribute or array of names."""
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.dtype.kind not in "USO":
        raise DataError(f"{label} must be a 1-D array of strings, got {arr.dtype} with shape {arr.shape}")
    return [_as_name(v) for v in arr]


def _as_name(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, np.bytes_)) else str(value)


# ---------------------------------------------------------------------------- formats


def _sniff(path: str, wanted: str = "an HDF5, NPZ or CSV file") -> str:
    """``"hdf5"``, ``"npz"`` or ``"csv"`` from the first bytes; DataError otherwise
    (``wanted``: what the caller reads, for the message)."""
    if not os.path.exists(path):
        raise DataError("no such file; check the path")
    if os.path.isdir(path):
        raise DataError(f"is a directory, not a data file; pass {wanted}")
    if not os.path.isfile(path):   # a pipe (<(...), /dev/stdin) or a device: read more than once, or never ends
        raise DataError(f"is a pipe or a device, not a file: the data is read more than once; save it to a file "
                        f"and pass {wanted}")
    try:
        with open(path, "rb") as handle:
            head = handle.read(65536)
    except OSError as exc:
        raise DataError(f"cannot read the file ({exc.strerror or exc})") from None
    if not head:
        raise DataError("the file is empty")
    # the HDF5 signature sits at offset 0, or after a user block of 512, 1024, 2048, ... bytes
    if any(head.startswith(HDF5_SIGNATURE, offset) for offset in (0, 512, 1024, 2048, 4096, 8192, 16384, 32768)):
        return "hdf5"
    if head.startswith(ZIP_SIGNATURES):
        return "npz"
    controls = sum(head.count(bytes([c])) for c in range(32) if c not in b"\t\n\r\f")
    if controls > len(head) // 100 or b"\x00" in head:
        raise DataError(
            f"not an HDF5, NPZ or CSV file (binary data starting {head[:8]!r}); "
            "discover reads HDF5, NPZ and CSV text"
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc) from None
    return "csv"


def _not_utf8(exc: UnicodeDecodeError) -> DataError:
    return DataError(f"text that is not UTF-8 (byte {exc.object[exc.start]:#x}); save the CSV as UTF-8")


def _load_hdf5(path: str, target: str | None):
    """Raw parts from an HDF5 file in layout (a) X/y or (b) one 1-D dataset per column."""
    try:
        with h5py.File(path, "r") as handle:
            return _hdf5_parts(handle, target)
    except OSError as exc:
        raise DataError(f"cannot read as HDF5 ({exc}); the file may be truncated or corrupt") from None


def _hdf5_parts(handle, target: str | None):
    """Raw parts from an open h5py.File (see :func:`_load_hdf5`)."""
    group = handle
    if len(group) == 1 and isinstance(next(iter(group.values())), h5py.Group):
        group = next(iter(group.values()))
    datasets = {name: obj for name, obj in group.items() if isinstance(obj, h5py.Dataset)}
    X, y = datasets.get("X"), datasets.get("y")
    if X is not None and X.ndim != 1:
        if y is None:
            raise DataError("has a dataset 'X' but no 'y'; store the target as a 1-D dataset 'y'")
        names_attr = next((X.attrs[k] for k in ("feature_names", "names") if k in X.attrs), None)
        names = None if names_attr is None else _as_names(names_attr, "attribute feature_names of X")
        target_name = _as_name(y.attrs["name"]) if "name" in y.attrs else "y"
        return _from_matrix(X[()], y[()], names, target_name, target)
    if not any(ds.ndim == 1 for ds in datasets.values()):
        contents = ", ".join(
            f"'{name}' shape {obj.shape}" if isinstance(obj, h5py.Dataset) else f"group '{name}'"
            for name, obj in group.items()
        )
        raise DataError(
            f"no usable data (contents: {contents or 'nothing'}); store a 2-D dataset X and a 1-D "
            "dataset y, or one 1-D dataset per column, at the root or in its only group"
        )
    return _from_columns([(name, ds[()]) for name, ds in datasets.items()], target, last_is_default=False)


def _hdf5_units(path: str, feature_names: list[str] | None, target_name: str, dataset: Dataset) -> dict[str, str]:
    """The ``units`` attributes of an HDF5 file, by the dataset's (sanitized) column names.

    ``feature_names`` and ``target_name`` are the raw names :func:`_hdf5_parts` found
    (``feature_names`` None: layout (a) without names).
    """
    with h5py.File(path, "r") as handle:
        group = handle
        if len(group) == 1 and isinstance(next(iter(group.values())), h5py.Group):
            group = next(iter(group.values()))
        X, y = group.get("X"), group.get("y")
        found: list[str | None]
        if isinstance(X, h5py.Dataset) and X.ndim != 1:
            units = X.attrs.get("units")
            found = [None] * dataset.n_features
            if units is not None:
                arr = np.atleast_1d(np.asarray(units))
                if arr.shape != (dataset.n_features,):
                    raise DataError(f"attribute units of X has {arr.size} entries for {dataset.n_features} columns; "
                                    "give one unit string per column")
                found = [_as_name(u) for u in arr]
            target_unit = y.attrs.get("units") if isinstance(y, h5py.Dataset) else None
            found.append(None if target_unit is None else _as_name(np.asarray(target_unit).reshape(-1)[0]))
        else:
            found = []
            for name in list(feature_names or []) + [target_name]:
                unit = group[name].attrs.get("units")
                found.append(None if unit is None else _as_name(np.asarray(unit).reshape(-1)[0]))
    names = dataset.feature_names + [dataset.target_name]
    return {name: unit for name, unit in zip(names, found) if unit is not None}


def _load_npz(path: str, target: str | None):
    """Raw parts from an NPZ file: arrays X and y (optional feature_names), or 1-D columns."""
    try:
        with zipfile.ZipFile(path) as archive:
            others = [name for name in archive.namelist() if not name.endswith(".npy")]
        if others:
            raise DataError(f"a zip file but not NPZ (member '{others[0]}' is not a .npy array); save with numpy.savez")
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: _npz_array(npz, name) for name in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"cannot read as NPZ ({exc}); the file may be truncated or corrupt") from None
    if "X" in arrays and arrays["X"].ndim != 1:
        if "y" not in arrays:
            raise DataError("has an array 'X' but no 'y'; save the target as a 1-D array 'y'")
        names = arrays.get("feature_names")
        names = None if names is None else _as_names(names, "array feature_names")
        return _from_matrix(arrays["X"], arrays["y"], names, "y", target)
    if not arrays:
        raise DataError("the NPZ file holds no arrays; save X and y, or one 1-D array per column")
    return _from_columns(list(arrays.items()), target, last_is_default=False)


def _npz_array(npz, name: str) -> np.ndarray:
    try:
        return npz[name]
    except ValueError:  # object arrays need pickle, which is refused
        raise DataError(f"array '{name}' holds Python objects (dtype object); save numeric arrays only") from None


def _load_csv(path: str, target: str | None):
    """Raw parts from CSV text: a header row of names, numeric rows, '#' comment lines.

    numpy's fast parser reads well-formed files; anything it refuses is parsed again
    line by line to report the first problem with its line number.
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc) from None
    start = next((i for i, line in enumerate(lines) if _is_data_line(line)), None)
    if start is None:
        raise DataError("no header row and no data (only blank or '#' comment lines)")
    delimiter = next((d for d in ",\t;" if d in lines[start]), None)  # None: whitespace
    excel = lines[start].strip(" \r\n")
    if excel.lower().startswith("sep=") and len(excel) == 5:
        # Excel's separator line ("sep=;", "sep=\t") before the header
        delimiter = excel[4]
        start = next((i for i in range(start + 1, len(lines)) if _is_data_line(lines[i])), None)
        if start is None:
            raise DataError("no header row and no data after the 'sep=' line")
    names = _split_lines([lines[start]], delimiter)[0]
    _check_header_names(names)
    if all(_parse_float(name) is not None for name in names):
        example = ",".join([f"x{i}" for i in range(len(names) - 1)] + ["y"])
        raise DataError(f"the first line looks like data, not a header; add a header row of names, e.g. {example}")
    body = lines[start + 1 :]
    if not any(_is_data_line(line) for line in body):
        raise DataError("no data rows, only the header; the table needs at least one row of values")
    try:
        values = np.loadtxt(body, delimiter=delimiter, comments="#", ndmin=2, dtype=np.float64)
        ok = values.shape[1:] == (len(names),)
    except ValueError:
        ok = False
    if not ok:
        values = _parse_rows(body, start + 2, names, delimiter)
    return _from_columns(list(zip(names, values.T)), target, last_is_default=True)


def _check_header_names(names: list[str]) -> None:
    """DataError for a header column without a name: a row index (pandas' ``to_csv`` writes
    one with an empty name), or a separator at the end of every line."""
    if not names or all(names):
        return
    if names[-1] == "" and all(names[:-1]):
        raise DataError("the header ends with a separator, so its last column has no name; remove the separator "
                        "at the end of the lines, or name the column")
    if names[0] == "":
        raise DataError("the header's first column has no name: a row index (pandas' to_csv writes one; use "
                        "index=False), or a column to name; drop it or give it a name")
    raise DataError(f"header column {names.index('') + 1} has no name; give every column a name")


def _parse_rows(lines: list[str], first_lineno: int, names: list[str], delimiter: str | None) -> np.ndarray:
    """Values (n_rows, len(names)) from CSV data lines, slowly; DataError at the first bad line.

    Empty cells become NaN (reported later as missing values).
    """
    numbered = [(first_lineno + i, line) for i, line in enumerate(lines) if _is_data_line(line)]
    rows = _split_lines([line for _, line in numbered], delimiter)
    values = np.empty((len(rows), len(names)))
    for i, ((lineno, _), row) in enumerate(zip(numbered, rows)):
        if len(row) != len(names):
            raise DataError(
                f"line {lineno} has {len(row)} fields but the header has {len(names)} columns; "
                "every row needs one value per column"
            )
        for j, cell in enumerate(row):
            value = _parse_float(cell or "nan")
            if value is None:
                raise DataError(f"column '{names[j]}' line {lineno}: {_why_not_a_number(cell)}")
            values[i, j] = value
    return values


def _is_data_line(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _split_lines(lines: list[str], delimiter: str | None) -> list[list[str]]:
    """Stripped cells of each line, split at ``delimiter`` (CSV quoting) or at whitespace."""
    try:
        rows = csv.reader(lines, delimiter=delimiter) if delimiter else (line.split() for line in lines)
        return [[cell.strip() for cell in row] for row in rows]
    except csv.Error as exc:
        raise DataError(f"cannot parse as CSV ({exc})") from None


def _parse_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _why_not_a_number(cell: str) -> str:
    if _parse_float(cell.replace(",", ".")) is not None:
        return f"{cell!r} has a decimal comma; write numbers with a decimal point"
    try:
        complex(cell)
    except ValueError:
        return f"{cell!r} is not a number; every value must be a real number"
    return f"{cell!r} is a complex number; every value must be a real number"
