"""Tests for discover.data: every format's happy path, every kind of bad input (each with a
real file in tmp_path), dataset_from_arrays, name sanitization and the example files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from discover.data import Dataset, dataset_from_arrays, load_dataset, sanitize_names
from discover.errors import DataError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"

X3 = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
Y3 = np.array([10.0, 20.0, 30.0])


# ------------------------------------------------------------------------------ writers


def write_h5(path: Path, datasets: dict, attrs: dict | None = None, group: str | None = None) -> Path:
    """HDF5 file with ``datasets`` (name -> array) in creation order; ``attrs``: name -> {attr: value}."""
    with h5py.File(path, "w", track_order=True) as handle:
        where = handle.create_group(group, track_order=True) if group else handle
        for name, value in datasets.items():
            where[name] = value
        for name, values in (attrs or {}).items():
            where[name].attrs.update(values)
    return path


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def assert_dataset(ds: Dataset, X, y, names, target):
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.float64
    assert ds.X.flags.c_contiguous and not ds.X.flags.writeable and not ds.y.flags.writeable
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.feature_names == names
    assert ds.target_name == target


# ---------------------------------------------------------------------------- happy paths


def test_hdf5_layout_a_with_names(tmp_path):
    path = write_h5(tmp_path / "d.h5", {"X": X3, "y": Y3}, {"X": {"feature_names": ["p", "q"]}, "y": {"name": "force"}})
    ds = load_dataset(path)
    assert_dataset(ds, X3, Y3, ["p", "q"], "force")
    assert ds.path == str(path) and (ds.n_rows, ds.n_features) == (3, 2)


def test_hdf5_layout_a_defaults_and_bytes_names(tmp_path):
    assert_dataset(load_dataset(write_h5(tmp_path / "a.h5", {"X": X3, "y": Y3})), X3, Y3, ["x0", "x1"], "y")
    path = write_h5(tmp_path / "b.h5", {"X": X3, "y": Y3}, {"X": {"names": np.array([b"u", b"v"])}})
    assert load_dataset(path, target="y").feature_names == ["u", "v"]


def test_hdf5_layout_b_columns_target_and_order(tmp_path):
    path = write_h5(tmp_path / "k.h5", {"a": X3[:, 0], "M": X3[:, 1], "T": Y3})
    assert_dataset(load_dataset(path, target="T"), X3, Y3, ["a", "M"], "T")
    # any column can be the target; the rest keep file order
    assert_dataset(load_dataset(path, target="a"), np.column_stack([X3[:, 1], Y3]), X3[:, 0], ["M", "T"], "a")


def test_hdf5_layout_b_default_y_inside_single_group(tmp_path):
    path = write_h5(tmp_path / "g.h5", {"y": Y3, "b": X3[:, 0], "c": np.array([1, 2, 3], dtype=np.int32)}, group="run1")
    assert_dataset(load_dataset(path), np.column_stack([X3[:, 0], [1, 2, 3]]), Y3, ["b", "c"], "y")


def test_csv_defaults_comments_and_target(tmp_path):
    text = "# measured 2024\n\nx0,x1,out\n1,2,10\n# a comment line\n3,4,20\n5,6,30\n"
    path = write_csv(tmp_path / "d.csv", text)
    assert_dataset(load_dataset(path), X3, Y3, ["x0", "x1"], "out")  # last column by default
    assert_dataset(load_dataset(path, target="x0"), np.column_stack([X3[:, 1], Y3]), X3[:, 0], ["x1", "out"], "x0")


def test_csv_prefers_y_column_and_other_separators(tmp_path):
    path = write_csv(tmp_path / "d.csv", "y;x0;x1\n10;1;2\n20;3;4\n30;5;6\n")
    assert_dataset(load_dataset(path), X3, Y3, ["x0", "x1"], "y")
    path = write_csv(tmp_path / "t.tsv", "\ufeffa\tb\tc\n1\t2\t10\n3\t4\t20\n5\t6\t30\n")  # BOM, tabs
    assert_dataset(load_dataset(path), X3, Y3, ["a", "b"], "c")


def test_whitespace_separated_text(tmp_path):
    path = write_csv(tmp_path / "d.txt", "a  b   y\n1 2 10\n 3\t4 20\n5 6 30\n")
    assert_dataset(load_dataset(path), X3, Y3, ["a", "b"], "y")


def test_hdf5_with_user_block(tmp_path):
    path = tmp_path / "ub.h5"
    with h5py.File(path, "w", userblock_size=512) as handle:
        handle["X"], handle["y"] = X3, Y3
    with open(path, "r+b") as handle:
        handle.write(b"a user block, not an HDF5 signature")
    assert_dataset(load_dataset(path), X3, Y3, ["x0", "x1"], "y")


def test_format_is_chosen_by_content_not_extension(tmp_path):
    csv_named_h5 = write_csv(tmp_path / "data.h5", "a,b,y\n1,2,10\n3,4,20\n5,6,30\n")
    assert_dataset(load_dataset(csv_named_h5), X3, Y3, ["a", "b"], "y")
    npz = write_npz(tmp_path / "x.npz", X=X3, y=Y3)
    renamed = npz.rename(tmp_path / "data.csv")
    assert_dataset(load_dataset(renamed), X3, Y3, ["x0", "x1"], "y")


def test_npz_layouts(tmp_path):
    path = write_npz(tmp_path / "a.npz", X=X3, y=Y3, feature_names=np.array(["r", "s"]))
    assert_dataset(load_dataset(path), X3, Y3, ["r", "s"], "y")
    path = write_npz(tmp_path / "b.npz", u=X3[:, 0], v=X3[:, 1], w=Y3)
    assert_dataset(load_dataset(path, target="w"), X3, Y3, ["u", "v"], "w")


def test_names_are_sanitized_and_target_accepts_either_spelling(tmp_path):
    path = write_csv(tmp_path / "d.csv", "mass (kg),2theta,lambda,a.b,a_b\n1,2,3,4,5\n")
    ds = load_dataset(path, target="a.b")
    assert ds.feature_names == ["mass__kg_", "_2theta", "_lambda", "a_b"] and ds.target_name == "a_b_2"
    assert load_dataset(path, target="mass__kg_").target_name == "mass__kg_"


def test_sanitize_names():
    assert sanitize_names(["x", "if", "", "é1", "1", "_1", "a-b"]) == ["x", "_if", "_", "é1", "_1_2", "_1", "a_b"]
    assert all(name.isidentifier() for name in sanitize_names(["x²", "€", "a b c"]))


def test_example_files_hold_the_documented_laws():
    h5 = load_dataset(EXAMPLES / "quadratic_cosine.h5")
    csv = load_dataset(EXAMPLES / "quadratic_cosine.csv")
    assert h5.X.shape == (500, 2) and h5.feature_names == ["x0", "x1"] and h5.target_name == "y"
    np.testing.assert_array_equal(csv.X, h5.X)
    np.testing.assert_array_equal(csv.y, h5.y)
    np.testing.assert_allclose(h5.y, 2.5 * h5.X[:, 0] ** 2 + np.cos(h5.X[:, 1]), rtol=1e-15)
    assert h5.X.min() >= -3 and h5.X.max() <= 3
    kepler = load_dataset(EXAMPLES / "kepler.h5", target="T")
    assert kepler.X.shape == (300, 2) and kepler.feature_names == ["a", "M"]
    a, M = kepler.X.T
    np.testing.assert_allclose(kepler.y, np.sqrt(a**3 / M), rtol=1e-15)
    assert 0.3 <= a.min() and a.max() <= 30 and 0.5 <= M.min() and M.max() <= 2


# ------------------------------------------------------------------------ dataset_from_arrays


def test_from_arrays_lists_and_ints_become_float64():
    ds = dataset_from_arrays([[1, 2], [3, 4], [5, 6]], [10, 20, 30])
    assert_dataset(ds, X3, Y3, ["x0", "x1"], "y")
    assert ds.path is None


def test_from_arrays_copies_and_accepts_column_y_and_names():
    X = np.asfortranarray(X3.astype(np.float32))
    ds = dataset_from_arrays(X, Y3.reshape(-1, 1), feature_names=["in 1", "in 2"], target_name="out")
    assert_dataset(ds, X3, Y3, ["in_1", "in_2"], "out")
    X[0, 0] = 99
    assert ds.X[0, 0] == 1.0


def test_from_arrays_pandas_like_object():
    class Frame:  # the parts of a DataFrame that dataset_from_arrays uses
        columns = ["speed", "time"]

        def __getitem__(self, key):
            return {"speed": np.array([1, 3, 5]), "time": np.array([2.0, 4.0, 6.0])}[key]

        def __len__(self):
            return 3

    assert_dataset(dataset_from_arrays(Frame(), Y3), X3, Y3, ["speed", "time"], "y")


def test_from_arrays_feature_may_be_called_y():
    """Coordinates x, y: the unnamed target takes a name that no feature has."""
    assert_dataset(dataset_from_arrays(X3, Y3, feature_names=["x", "y"]), X3, Y3, ["x", "y"], "y_2")
    assert dataset_from_arrays(X3, Y3, feature_names=["y", "y_2"]).target_name == "y_3"
    assert dataset_from_arrays(X3, Y3, feature_names=["y", "t"], target_name="z").target_name == "z"


def test_csv_feature_y_with_target_z_round_trips_through_from_arrays(tmp_path):
    """The ``discover fit data.csv --target z`` path: load, then hand the arrays to fit."""
    loaded = load_dataset(write_csv(tmp_path / "xyz.csv", "x,y,z\n1,2,10\n3,4,20\n5,6,30\n"), target="z")
    assert_dataset(loaded, X3, Y3, ["x", "y"], "z")
    again = dataset_from_arrays(loaded.X, loaded.y, feature_names=loaded.feature_names)
    assert_dataset(again, X3, Y3, ["x", "y"], "y_2")


@pytest.mark.parametrize(
    "X, y, kwargs, message",
    [
        (X3[:, 0], Y3, {}, "X.reshape(-1, 1)"),
        (np.zeros((3, 2, 2)), Y3, {}, "must be 2-D"),
        (X3, np.zeros((3, 2)), {}, "must be 1-D"),
        (X3, Y3[:2], {}, "X has 3 rows but target 'y' has 2"),
        ([[1, 2], [3]], Y3, {}, "same length"),
        (X3, Y3, {"feature_names": ["a"]}, "X has 2 columns but 1 feature names"),
        (X3, Y3, {"feature_names": ["a", "a"]}, "duplicate column names 'a'"),
        (X3, Y3, {"feature_names": ["a", "out"], "target_name": "out"}, "duplicate column names 'out'"),
        (X3.astype(complex), Y3, {}, "complex"),
        (np.array([[1, "a"]] * 3, dtype=object), Y3, {}, "not numeric (dtype object"),
        ([["1", "2"]] * 3, Y3, {}, "not numeric (dtype <U1, e.g. '1')"),
        (np.zeros((0, 2)), np.zeros(0), {}, "no data rows"),
        (np.zeros((3, 0)), Y3, {}, "no input columns, only the target 'y'"),
    ],
)
def test_from_arrays_errors(X, y, kwargs, message):
    with pytest.raises(DataError) as info:
        dataset_from_arrays(X, y, **kwargs)
    assert message in str(info.value)


def test_from_arrays_nan_reports_columns_and_rows():
    X = X3.copy()
    X[1, 1] = np.nan
    X[2, 1] = np.inf
    with pytest.raises(DataError) as info:
        dataset_from_arrays(X, [1.0, np.nan, 3.0])
    assert str(info.value) == (
        "missing, NaN or inf values: column 'x1' in 2 rows (first at row index 1), "
        "'y' in 1 row (first at row index 1); 2 of 3 rows affected; remove those rows or impute the values"
    )


# ---------------------------------------------------------------------- bad files: errors

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64))


def _file(tmp_path, name, content):
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def _h5(**datasets):
    return lambda tmp_path: write_h5(tmp_path / "d.h5", datasets)


def _csv(text):
    return lambda tmp_path: _file(tmp_path, "d.csv", text)


BAD_FILES = {
    # id: (make(tmp_path) -> path, target, substrings the one-line message must contain)
    "missing file": (lambda p: p / "nope.h5", None, ["nope.h5: no such file"]),
    "directory": (lambda p: p, None, ["is a directory"]),
    "empty file": (lambda p: _file(p, "e.csv", b""), None, ["the file is empty"]),
    "random bytes": (
        lambda p: _file(p, "r.h5", np.random.default_rng(0).integers(0, 256, 512, dtype=np.uint8).tobytes()),
        None,
        ["not an HDF5, NPZ or CSV file"],
    ),
    "png": (lambda p: _file(p, "img.csv", PNG_HEADER), None, ["not an HDF5, NPZ or CSV file", "PNG"]),
    "latin-1 text": (lambda p: _file(p, "l.csv", "caf\xe9,y\n1,2\n".encode("latin-1")), None, ["not UTF-8 (byte 0xe9)"]),
    "non-UTF-8 late in file": (
        lambda p: _file(p, "l.csv", b"a,y\n" + b"1,2\n" * 40000 + b"\xff,3\n"),
        None,
        ["not UTF-8 (byte 0xff)"],
    ),
    "truncated hdf5": (lambda p: _file(p, "t.h5", b"\x89HDF\r\n\x1a\n" + bytes(40)), None, ["cannot read as HDF5"]),
    "zip not npz": (lambda p: _zip(p / "z.npz"), None, ["not NPZ", "notes.txt"]),
    "text named .npz": (lambda p: _file(p, "t.npz", b"a,y\n"), None, ["not an NPZ file (it has no NPZ signature; read as CSV"]),
    "hdf5 target absent (columns)": (
        _h5(a=X3[:, 0], b=Y3),
        "c",
        ["target 'c' not found; available: 'a', 'b'"],
    ),
    "hdf5 columns without y": (_h5(a=X3[:, 0], b=Y3), None, ["no column named 'y'", "--target", "'a', 'b'"]),
    "hdf5 target absent (X/y)": (_h5(X=X3, y=Y3), "z", ["target 'z' not found", "'x0', 'x1'", "--target y"]),
    "hdf5 X without y": (_h5(X=X3, target=Y3), None, ["'X' but no 'y'"]),
    "hdf5 no usable data": (
        lambda p: write_h5(p / "d.h5", {"images": np.zeros((2, 3, 3)), "meta/version": 1}),
        None,
        ["no usable data", "'images' shape (2, 3, 3)", "group 'meta'"],
    ),
    "hdf5 empty file": (lambda p: write_h5(p / "d.h5", {}), None, ["no usable data (contents: nothing)"]),
    "hdf5 column not 1-D": (_h5(a=X3[:, 0], b=X3, y=Y3), None, ["'b' has shape (3, 2)", "must be 1-D"]),
    "hdf5 nan": (_h5(a=[1.0, np.nan, np.nan], y=Y3), None, ["'a' in 2 rows (first at row index 1)", "impute"]),
    "hdf5 inf in X": (_h5(X=[[1.0, 2.0], [np.inf, 3.0]], y=[1.0, 2.0]), None, ["'x0' in 1 row", "inf"]),
    "hdf5 unequal columns": (_h5(a=[1.0, 2.0], y=Y3), None, ["different lengths ('a' 2, 'y' 3 rows)"]),
    "hdf5 X rows != y": (_h5(X=X3, y=[1.0, 2.0]), None, ["X has 3 rows but target 'y' has 2"]),
    "hdf5 zero rows": (_h5(a=np.zeros(0), y=np.zeros(0)), None, ["no data rows"]),
    "hdf5 target alone": (_h5(y=Y3), None, ["no input columns, only the target 'y'"]),
    "hdf5 strings": (
        lambda p: write_h5(p / "d.h5", {"a": np.array(["x", "y", "z"], dtype=h5py.string_dtype()), "y": Y3}),
        None,
        ["column 'a' is not numeric", "b'x'"],
    ),
    "hdf5 complex": (_h5(X=X3 * 1j, y=Y3), None, ["X holds complex numbers"]),
    "hdf5 2-D y": (_h5(X=X3, y=np.ones((3, 2))), None, ["target 'y' has shape (3, 2)", "1-D"]),
    "hdf5 3-D X": (_h5(X=np.ones((3, 2, 2)), y=Y3), None, ["X has shape (3, 2, 2)", "2-D"]),
    "hdf5 duplicate names": (
        lambda p: write_h5(p / "d.h5", {"X": X3, "y": Y3}, {"X": {"feature_names": ["a", "a"]}}),
        None,
        ["duplicate column names 'a'"],
    ),
    "hdf5 wrong number of names": (
        lambda p: write_h5(p / "d.h5", {"X": X3, "y": Y3}, {"X": {"feature_names": ["a", "b", "c"]}}),
        None,
        ["X has 2 columns but 3 feature names"],
    ),
    "csv target absent": (_csv("a,b\n1,2\n"), "c", ["target 'c' not found; available: 'a', 'b'"]),
    "csv ragged": (_csv("a,b,y\n1,2,3\n4,5\n"), None, ["line 3 has 2 fields but the header has 3"]),
    "csv string": (_csv("a,y\n1,2\n# c\nfoo,4\n"), None, ["column 'a' line 4: 'foo' is not a number"]),
    "csv complex": (_csv("a,y\n1+2j,2\n"), None, ["'1+2j' is a complex number"]),
    "csv decimal comma": (_csv("a;y\n1,5;2\n"), None, ["'1,5' has a decimal comma"]),
    "csv missing cell": (_csv("a,y\n1,2\n,4\n"), None, ["missing, NaN or inf", "'a' in 1 row"]),
    "csv nan": (_csv("a,y\n1,nan\n3,4\n"), None, ["'y' in 1 row (first at row index 0)"]),
    "csv header only": (_csv("a,y\n# end\n"), None, ["no data rows, only the header"]),
    "csv only comments": (_csv("# nothing\n\n"), None, ["no header row"]),
    "csv no header": (_csv("1,2,3\n4,5,6\n"), None, ["looks like data", "x0,x1,y"]),
    "csv target alone": (_csv("y\n1\n2\n"), None, ["no input columns"]),
    "csv duplicate names": (_csv("a,a,y\n1,2,3\n"), None, ["duplicate column names 'a'"]),
    "npz object array": (
        lambda p: write_npz(p / "d.npz", X=np.array([[1, None]], dtype=object), y=[1.0]),
        None,
        ["array 'X' holds Python objects"],
    ),
    "npz columns unequal": (lambda p: write_npz(p / "d.npz", a=[1.0], y=[1.0, 2.0]), None, ["different lengths"]),
    "npz no arrays": (lambda p: write_npz(p / "d.npz"), None, ["holds no arrays"]),
    "npz strings": (lambda p: write_npz(p / "d.npz", X=np.array([["a", "b"]]), y=[1.0]), None, ["X is not numeric"]),
}


def _zip(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return path


@pytest.mark.parametrize("make, target, expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_files_raise_one_line_data_error(tmp_path, make, target, expected):
    path = make(tmp_path)
    with pytest.raises(DataError) as info:
        load_dataset(path, target=target)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    for part in expected:
        assert part in message, message


@pytest.mark.parametrize("text, message", [
    (",a,y\n0,1,2\n1,2,4\n2,3,6\n", "first column has no name: a row index"),
    ("a,y,\n1,2,\n2,4,\n3,6,\n", "the header ends with a separator"),
    ("a,,y\n1,2,3\n2,4,5\n", "header column 2 has no name"),
])
def test_csv_columns_without_a_name_are_refused(tmp_path, text, message):
    """pandas' to_csv writes its row index as a column without a name: it became a feature `_`."""
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_dataset(path)


def test_excels_separator_line_is_read(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("sep=;\na;b;y\n1;2;3\n2;3;5\n3;1;4\n")
    data = load_dataset(path)
    assert data.feature_names == ["a", "b"] and data.y.tolist() == [3.0, 5.0, 4.0]


def test_names_of_constants_are_sanitized():
    assert sanitize_names(["E", "pi", "I", "x", "Ex"]) == ["_E", "_pi", "_I", "x", "Ex"]
