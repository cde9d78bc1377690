"""Field data for PDE discovery: fields u(t, x[, y]) on a grid, read from HDF5 or NPZ.

Layout (what ``discover simulate`` writes): one dataset per field, shape ``(nt, nx)`` or
``(nt, nx, ny)``; one 1-D dataset per coordinate (default names ``t``, ``x``, ``y``).
Optional root attributes: ``periodic`` (bool: the spatial axes wrap around), ``case``,
``equation``, ``rhs``, ``known``, ``hidden`` (JSON strings), ``noise``.  NPZ files hold
the same arrays, attributes as 0-d arrays.

:func:`load_fields` validates everything the methods rely on and raises
:class:`~discover.errors.DataError` with one line otherwise: a missing dataset (listing
what the file holds), fields whose shapes disagree with the coordinates or with each
other, NaN/inf, coordinates that are not strictly increasing.  Uniform spacing is
checked where a method needs it (:func:`discover.pde.derivatives.uniform_spacing`).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import h5py
import numpy as np

from ..data import _frozen, _numeric, _sniff
from ..errors import DataError

DEFAULT_COORDS = ("t", "x", "y")


@dataclass(frozen=True)
class FieldData:
    """Fields on a tensor grid.

    ``fields[name]`` has shape ``(nt, nx[, ny])``; ``coords`` maps the axis names in axis
    order (time first) to 1-D arrays of those lengths.  ``periodic`` says whether the
    spatial axes wrap around.  ``attrs`` carries the file's metadata (e.g. the true
    equation of simulated data).
    """

    fields: dict[str, np.ndarray]
    coords: dict[str, np.ndarray]
    periodic: bool = False
    attrs: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def field_names(self) -> list[str]:
        return list(self.fields)

    @property
    def axis_names(self) -> list[str]:
        return list(self.coords)

    @property
    def space_names(self) -> list[str]:
        return self.axis_names[1:]

    @property
    def shape(self) -> tuple[int, ...]:
        return next(iter(self.fields.values())).shape

    def spacings(self) -> tuple[float, ...]:
        """Grid spacing per axis (DataError where an axis is not uniform)."""
        from .derivatives import uniform_spacing

        return tuple(uniform_spacing(values, name) for name, values in self.coords.items())


def load_fields(path: str | os.PathLike, fields: Sequence[str] | None = None,
                coords: Sequence[str] | None = None, periodic: bool | None = None) -> FieldData:
    """Read and validate ``fields`` (default: every 2-D or 3-D dataset) and ``coords``
    (default ``t,x`` or ``t,x,y`` by the fields' dimension) from an HDF5 or NPZ file.  ``periodic`` overrides
    the file's ``periodic`` attribute (default False when the file has none)."""
    path = os.fspath(path)
    try:
        kind = _sniff(path, "an HDF5 or NPZ file")
        if kind == "csv":
            raise DataError("field data must be HDF5 or NPZ (one dataset per field and per coordinate)")
        arrays, attrs, groups = _read_hdf5(path) if kind == "hdf5" else _read_npz(path)
        return fields_from_arrays(arrays, attrs, fields, coords, periodic, path, groups)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


#: Periodic data whose first (or second) difference across the ends of an axis is this many
#: times its largest one between neighbours inside does not wrap around.
WRAP_JUMP = 8.0
#: Snapshots the wrap-around check looks at, at most (evenly spaced: it needs no more, and
#: a whole 2-D record would be copied several times).
WRAP_SNAPSHOTS = 64


def _check_wraps_around(values: dict[str, np.ndarray], axis_names: Sequence[str]) -> None:
    """DataError where data said to be periodic does not wrap around a spatial axis: the
    fields jump across its ends, or have a kink there (fixed boundary values, or one point
    of the period held twice), measured as the root-mean-square over time of the first and
    second differences across the ends against the largest inside (:data:`WRAP_JUMP`).
    Either makes spectral derivatives and the periodic weak form wrong everywhere, not only
    at the ends; a field that is flat or zero near both ends (a pulse) passes."""
    for name, value in values.items():
        sample = value[:: max(1, -(-value.shape[0] // WRAP_SNAPSHOTS))]
        for axis in range(1, sample.ndim):
            n = sample.shape[axis]
            if n < 4:
                continue
            others = tuple(a for a in range(sample.ndim) if a != axis)
            # the axis with its last point before and its first after: u[n-1], u[0..n-1], u[0]
            wrapped = np.concatenate([np.take(sample, [n - 1], axis=axis), sample,
                                      np.take(sample, [0], axis=axis)], axis=axis)
            for order in (1, 2):
                steps = np.sqrt(np.mean(np.diff(wrapped, n=order, axis=axis) ** 2, axis=others))
                # first differences: [0] from u[n-1] to u[0] crosses the ends, [1..n-1] inside;
                # second differences: [0] at u[0] and [n-1] at u[n-1] reach across, [1..n-2] inside
                across = float(steps[0] if order == 1 else max(steps[0], steps[n - 1]))
                largest = float(steps[1:n].max() if order == 1 else steps[1:n - 1].max())
                if across > WRAP_JUMP * largest:
                    what = "jumps" if order == 1 else "has a kink"
                    raise DataError(
                        f"the data are said to be periodic, but field '{name}' {what} across the ends of "
                        f"'{axis_names[axis]}' ({across / max(largest, np.finfo(float).tiny):.3g} x its largest "
                        f"{'step' if order == 1 else 'second difference'} inside): it does not wrap around "
                        f"(fixed boundary values, or one point of the period held twice); pass --no-periodic "
                        "(or set the file's periodic attribute to false)")


def fields_from_arrays(arrays: dict, attrs: dict | None = None, fields: Sequence[str] | None = None,
                       coords: Sequence[str] | None = None, periodic: bool | None = None,
                       path: str | None = None, groups: Sequence[str] = ()) -> FieldData:
    """Validate in-memory arrays (same names as in a file) into :class:`FieldData`;
    ``groups``: the file's groups, whose datasets are not read (named when one is missing)."""
    attrs = dict(attrs or {})
    field_names = list(fields) if fields else default_fields(arrays, coords)
    for name in field_names:
        if not name.isidentifier() or "_" in name:
            raise DataError(f"field name {name!r} cannot be used: derivatives are written {name}_x, so a field "
                            "name must be an identifier without '_'; rename the dataset")
    if len(set(field_names)) != len(field_names):
        raise DataError(f"field names repeat: {', '.join(field_names)}")
    for name in field_names:
        if name not in arrays:
            hint = "" if fields else "; name the fields with --fields"   # given: by the user, or a result
            raise DataError(f"no dataset '{name}' (holds: {_contents(arrays, groups)}){hint}")
    values = {name: _numeric(np.asarray(arrays[name]), f"field '{name}'") for name in field_names}
    ndim = values[field_names[0]].ndim
    if ndim not in (2, 3):
        raise DataError(f"field '{field_names[0]}' has shape {values[field_names[0]].shape}; "
                        "fields must be (nt, nx) or (nt, nx, ny)")
    axis_names = list(coords or DEFAULT_COORDS[:ndim])
    if len(axis_names) != ndim:
        raise DataError(f"{len(axis_names)} coordinate{'s' if len(axis_names) != 1 else ''} ({', '.join(axis_names)}) "
                        f"for fields of dimension {ndim}; "
                        f"give {ndim} names with --coords, time first")
    axes = {}
    for name in axis_names:
        if name not in arrays:
            raise DataError(f"no coordinate dataset '{name}' (holds: {_contents(arrays, groups)}); "
                            "name them with --coords")
        axis = _numeric(np.asarray(arrays[name]), f"coordinate '{name}'").astype(np.float64).ravel()
        if not np.all(np.isfinite(axis)):
            raise DataError(f"coordinate '{name}' has NaN or inf values")
        if axis.size > 1 and not np.all(np.diff(axis) > 0):
            raise DataError(f"coordinate '{name}' is not strictly increasing; sort the data along that axis")
        axes[name] = axis
    shape = tuple(axis.size for axis in axes.values())
    for name, value in values.items():
        if value.shape != shape:
            expected = " x ".join(f"{n}={s}" for n, s in zip(axis_names, shape))
            raise DataError(f"field '{name}' has shape {value.shape} but the coordinates give ({expected}); "
                            "fields are stored time first, then x[, y]")
        bad = ~np.isfinite(value)
        if bad.any():
            first = np.unravel_index(np.argmax(bad), value.shape)
            raise DataError(f"field '{name}' has {int(bad.sum())} NaN/inf values (first at index {tuple(map(int, first))}); "
                            "remove or interpolate them")
    if periodic is None:
        periodic = _truthy(attrs.get("periodic", False))
    if periodic:
        _check_wraps_around(values, axis_names)
    return FieldData({n: _frozen(v) for n, v in values.items()}, {n: _frozen(a) for n, a in axes.items()},
                     periodic, attrs, path)


def default_fields(arrays: dict, coords: Sequence[str] | None = None) -> list[str]:
    """Every dataset of 2 or 3 dimensions, in file order (the coordinates are 1-D; a
    coordinate's name is never a field, so a ``t`` saved as ``(nt, 1)`` is reported as a
    coordinate); ``u`` when there is none, so the error names what was expected."""
    skip = set(coords or DEFAULT_COORDS)
    names = [name for name, value in arrays.items() if np.ndim(value) in (2, 3) and name not in skip]
    return names or ["u"]


def _truthy(value) -> bool:
    """An attribute as a flag: ``"false"``, ``"no"``, ``"0"`` are False (any case)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def _contents(arrays: dict, groups: Sequence[str] = ()) -> str:
    listed = ", ".join(f"'{name}' {np.shape(value)}" for name, value in arrays.items()) or "no dataset"
    if groups:   # datasets inside groups are not read: say so, or "holds: nothing" misleads
        listed += f"; groups {', '.join(repr(g) for g in groups)} (only datasets at the file's root are read)"
    return listed


def _read_hdf5(path: str) -> tuple[dict, dict, list[str]]:
    """The root's datasets, attributes and group names (datasets in groups are not read)."""
    try:
        with h5py.File(path, "r") as handle:
            arrays = {name: obj[()] for name, obj in handle.items() if isinstance(obj, h5py.Dataset)}
            attrs = {key: _plain(value) for key, value in handle.attrs.items()}
            groups = [name for name, obj in handle.items() if isinstance(obj, h5py.Group)]
    except OSError as exc:
        raise DataError(f"cannot read as HDF5 ({exc}); the file may be truncated or corrupt") from None
    return arrays, attrs, groups


def _read_npz(path: str) -> tuple[dict, dict, list[str]]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"cannot read as NPZ ({exc}); save numeric arrays with numpy.savez") from None
    arrays = {k: v for k, v in raw.items() if v.ndim >= 1}
    attrs = {k: _plain(v[()]) for k, v in raw.items() if v.ndim == 0}
    return arrays, attrs, []


def _plain(value):
    """An attribute as a plain Python value (bytes decoded, NumPy scalars unwrapped)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return value
