"""Input layouts, the tslearn converter, and clear errors for bad input."""

import numpy as np
import pytest
import scipy.sparse

from sklearn_wdist import check_sequences, from_tslearn


def test_three_d_array_is_channels_first():
    X = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    sequences = check_sequences(X)
    assert [s.shape for s in sequences] == [(3, 4), (3, 4)]
    np.testing.assert_array_equal(sequences[1], X[1])
    # float64 keeps its precision until the data are centred; float32 stays.
    assert all(s.dtype == np.float64 for s in sequences)
    assert all(s.dtype == np.float32 for s in check_sequences(X.astype("float32")))


def test_two_d_array_is_univariate():
    X = np.arange(6.0).reshape(2, 3)
    sequences = check_sequences(X)
    assert [s.tolist() for s in sequences] == [[[0, 1, 2]], [[3, 4, 5]]]


def test_list_of_unequal_lengths_and_one_d_items():
    sequences = check_sequences([np.ones((2, 5)), np.zeros((2, 1))])
    assert [s.shape for s in sequences] == [(2, 5), (2, 1)]
    assert [s.shape for s in check_sequences([[1, 2, 3], [4.0]])] == [(1, 3), (1, 1)]


def test_from_tslearn_strips_trailing_nan_and_transposes():
    X = np.full((3, 5, 2), np.nan)
    X[0] = np.arange(10).reshape(5, 2)
    X[1, :2] = [[1, 2], [3, 4]]
    X[2, :1] = [[7, 8]]
    sequences = from_tslearn(X)
    assert [s.shape for s in sequences] == [(2, 5), (2, 2), (2, 1)]
    np.testing.assert_array_equal(sequences[1], [[1, 3], [2, 4]])
    # And they are valid input to the estimator's validation.
    assert len(check_sequences(sequences)) == 3


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.full((2, 3, 2), np.nan), "X\\[0\\] is all NaN"),
        (
            np.array([[[1.0], [np.nan], [2.0]]]),
            "step 1 of channel 0 is missing inside the sequence",
        ),
        # One channel padded shorter than the others: not a gap inside it.
        (
            np.array([[[1.0, 1.0], [2.0, np.nan], [3.0, np.nan]]]),
            "channel 1 ends at step 1, before the others",
        ),
        ([np.zeros((5, 2)), np.zeros((3, 2))], "needs no from_tslearn"),
        (np.zeros((2, 2, 2, 2)), "dimension"),
        (np.zeros((0, 3, 1)), "empty"),
    ],
)
def test_from_tslearn_errors(X, match):
    with pytest.raises(ValueError, match=match):
        from_tslearn(X)


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        (None, ValueError, "X is None"),
        (np.zeros(5), ValueError, "Reshape your data"),
        (np.zeros((2, 2, 2, 2)), ValueError, "4 dimension"),
        (np.zeros((0, 4)), ValueError, "0 sequences"),
        ([], ValueError, "0 sequences"),
        (np.zeros((3, 2, 0)), ValueError, "0 time points"),
        ([np.ones((2, 3)), np.ones((2, 0))], ValueError, r"X\[1\] is an empty"),
        ([np.ones((2, 3)), np.ones((3, 3))], ValueError, r"X\[1\] has 3 channel"),
        ([np.ones((2, 3)), np.ones((2, 3, 1))], ValueError, r"X\[1\] must be a 2-D"),
        (np.array([[1.0, np.nan]]), ValueError, r"X\[0\] contains NaN"),
        (np.array([[1.0, np.inf]]), ValueError, r"X\[0\] contains infinity"),
        ([np.ones((1, 3)), np.array([[0.0, -np.inf]])], ValueError, r"X\[1\]"),
        (np.array([["a", "b"]]), TypeError, "numbers"),
        (np.ones((2, 2)) * 1j, ValueError, "Complex"),
        (scipy.sparse.csr_matrix(np.ones((2, 2))), TypeError, "sparse"),
        ("abc", TypeError, "string"),
    ],
)
def test_bad_input_errors_name_the_parameter(X, error, match):
    with pytest.raises(error, match=match):
        check_sequences(X)


def test_channel_count_must_match_fit():
    with pytest.raises(ValueError, match=r"2 channel.*expected.*seen during fit"):
        check_sequences(np.zeros((3, 2, 5)), n_channels=4)


@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        ((3, 20), r"A single sequence of 3 channels is x\[None\] or \[x\]"),
        ((20, 3), r"whose rows are time steps is x\.T\[None\]"),
        ((12, 20), r"fitted on 3 channels\. Sequences of several channels"),
        ((20,), r"fitted on 3 channels: a single sequence is a 2-D array"),
    ],
)
def test_arrays_a_multichannel_model_cannot_take_say_how_to_pass_them(shape, hint):
    # A channels-last single sequence (20, 3) got "X[0] has 1 channel(s)"
    # and a 1-D one the advice x.reshape(1, -1), which then failed the same way.
    with pytest.raises(ValueError, match=hint):
        check_sequences(np.zeros(shape), n_channels=3)


def test_a_long_table_with_text_ids_is_pointed_to_set_index():
    import pandas as pd

    table = pd.DataFrame({"id": ["s0"] * 3 + ["s1"] * 3, "t": [0, 1, 2] * 2})
    table["a"] = np.arange(6.0)
    with pytest.raises(TypeError, match=r"X\.set_index\(\[id, time\]\)"):
        check_sequences(table)
    assert [s.shape for s in check_sequences(table.set_index(["id", "t"]))] == [
        (1, 3),
        (1, 3),
    ]


def test_object_array_of_sequences_and_torch_tensors():
    import torch

    items = np.empty(2, dtype=object)
    items[0], items[1] = np.ones((2, 4)), np.zeros((2, 2))
    assert [s.shape for s in check_sequences(items)] == [(2, 4), (2, 2)]
    tensor = torch.ones(3, 2, 5, requires_grad=True)
    assert [s.shape for s in check_sequences(tensor)] == [(2, 5)] * 3


def test_masked_arrays_are_refused_where_masked_and_read_where_not():
    X = np.random.default_rng(0).normal(size=(3, 2, 9))
    unmasked = np.ma.masked_array(X, mask=np.zeros(X.shape, dtype=bool))
    np.testing.assert_array_equal(check_sequences(unmasked), check_sequences(X))
    masked = np.ma.masked_array(X.copy(), mask=np.zeros(X.shape, dtype=bool))
    masked.mask[0, 0, 0] = True
    masked.data[0, 0, 0] = 1e6  # behind the mask: no data
    with pytest.raises(ValueError, match="X is a masked array with masked values"):
        check_sequences(masked)


def test_a_nested_cell_with_several_channels_is_refused():
    import pandas as pd

    X = np.random.default_rng(0).normal(size=(3, 2, 9))
    with pytest.raises(ValueError, match=r"X.iloc\[0, 0\] has shape \(2, 9\)"):
        check_sequences(pd.DataFrame({"x": list(X)}))


def test_a_missing_instance_label_is_refused_by_row():
    import pandas as pd

    index = pd.MultiIndex.from_arrays([[0, 0, np.nan, np.nan], [0, 1, 0, 1]])
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]}, index=index)
    with pytest.raises(ValueError, match="missing instance index value at row 2"):
        check_sequences(frame)


@pytest.mark.parametrize(
    "names",
    [["timepoints", "instances"], ["time", None], [None, "instance"], ["Step", "x"]],
)
def test_levels_named_time_then_instance_are_refused(names):
    # Integer ids on both levels: read as (instance, time), 5 time points
    # silently became 5 sequences of 3 steps.
    import pandas as pd

    index = pd.MultiIndex.from_product([range(5), range(3)], names=names)
    frame = pd.DataFrame({"a": np.arange(15.0)}, index=index)
    with pytest.raises(ValueError, match=r"\(time, instance\).*swaplevel"):
        check_sequences(frame)
    unnamed = frame.set_axis(index.set_names([None, None]))
    assert [s.shape for s in check_sequences(unnamed)] == [(1, 3)] * 5
    named_well = frame.set_axis(index.set_names(["instances", "timepoints"]))
    assert len(check_sequences(named_well)) == 5


# ----------------------------------------------- pandas inputs, second review
def test_nested_cells_are_read_in_the_order_of_their_time_index():
    pd = pytest.importorskip("pandas")
    # A channel given in reverse time order was read by position, unlike the
    # same data as a pd-multiindex frame.
    X = pd.DataFrame(
        {
            "x": [pd.Series([1.0, 2.0, 3.0], index=[0, 1, 2])] * 2,
            "y": [pd.Series([30.0, 20.0, 10.0], index=[2, 1, 0])] * 2,
        }
    )
    np.testing.assert_array_equal(check_sequences(X)[0], [[1, 2, 3], [10, 20, 30]])
    # A default index reversed (pandas' s[::-1]) is a reversed time too.
    reversed_default = pd.Series([10.0, 20.0, 30.0])[::-1]
    frame = pd.DataFrame({"x": [reversed_default]})
    np.testing.assert_array_equal(check_sequences(frame)[0], [[10, 20, 30]])
    shifted = X.copy()
    shifted.iloc[0, 1] = pd.Series([10.0, 20.0, 30.0], index=[1, 2, 3])
    with pytest.raises(ValueError, match=r"X.iloc\[0\] has channels at different"):
        check_sequences(shifted)


def test_a_pivoted_frame_with_multiindex_columns_is_refused():
    pd = pytest.importorskip("pandas")
    wide = pd.DataFrame(
        np.arange(12.0).reshape(2, 6),
        columns=pd.MultiIndex.from_product([["acc", "gyro"], range(3)]),
    )
    with pytest.raises(ValueError, match="MultiIndex columns"):
        check_sequences(wide)


def test_a_dataframe_subclass_is_read_as_a_frame():
    pd = pytest.importorskip("pandas")

    class PanelFrame(pd.DataFrame):
        pass

    index = pd.MultiIndex.from_product([range(3), range(5)])
    frame = pd.DataFrame(np.arange(15.0)[:, None], index=index)
    assert len(check_sequences(PanelFrame(frame))) == 3  # not 15 rows


def test_pandas_arrays_and_indexes_as_items():
    pd = pytest.importorskip("pandas")
    items = [pd.array([1.0, 2.0, None], dtype="Float64"), pd.Index([1.0, 2.0, 3.0])]
    with pytest.raises(ValueError, match=r"X\[0\] contains NaN"):
        check_sequences(items)
    np.testing.assert_array_equal(check_sequences(items[1:])[0], [[1, 2, 3]])


@pytest.mark.parametrize(
    "values", [["1", "2"], [b"1", b"2"], [np.datetime64("2020-01-01"), 1.0]]
)
def test_text_and_dates_in_object_arrays_are_refused_as_in_typed_arrays(values):
    # A str array was refused while the same strings in an object array were
    # read as numbers.
    with pytest.raises(TypeError, match="must contain real numbers"):
        check_sequences(np.array([values], dtype=object))


@pytest.mark.parametrize(
    ("X", "where"),
    [
        (bytearray(np.ones(8, np.float32).tobytes()), "X is a bytearray"),
        ([bytearray(b"abcdef"), bytearray(b"abcdef")], r"X\[0\] is a bytearray"),
        ([[bytearray(b"ab")] * 4] * 3, r"X\[0\]\[0\] is a bytearray"),
        ([memoryview(b"abcdef")], r"X\[0\] is a memoryview of bytes"),
    ],
)
def test_raw_bytes_are_refused_not_read_as_bytes(X, where):
    # NumPy reads a bytearray's buffer as uint8: the bytes of a float32
    # recording became 32 plausible numbers from 0 to 128.
    with pytest.raises(TypeError, match=f"{where}.*np.frombuffer"):
        check_sequences(X)


def test_a_memoryview_of_an_array_keeps_its_values():
    values = np.linspace(-1.0, 1.0, 6)
    (sequence,) = check_sequences([memoryview(values)])
    np.testing.assert_array_equal(sequence, values[None])
    # Bytes cast to a number format are numbers of that format.
    cast = memoryview(values.astype(np.float32).tobytes()).cast("f")
    (sequence,) = check_sequences([cast])
    np.testing.assert_array_equal(sequence, values.astype(np.float32)[None])


def test_from_tslearn_refuses_arrays_without_steps_or_channels():
    for shape in [(2, 0, 1), (2, 3, 0)]:
        with pytest.raises(ValueError, match="at least one time point"):
            from_tslearn(np.zeros(shape))


def test_nested_cell_times_follow_the_pd_multiindex_rules():
    pd = pytest.importorskip("pandas")
    for index, error, match in [
        (["2", "10", "3"], TypeError, "strings, which sort as text"),
        ([0.0, np.nan, 2.0], ValueError, "missing time"),
        ([0, 1, 1], ValueError, "repeated time"),
    ]:
        frame = pd.DataFrame({"x": [pd.Series([1.0, 2.0, 3.0], index=index)]})
        with pytest.raises(error, match=match):
            check_sequences(frame)
    # Nested cells under MultiIndex column labels are still a nested frame.
    columns = pd.MultiIndex.from_tuples([("a", 0)])
    nested = pd.DataFrame([[pd.Series([1.0, 2.0])]], columns=columns)
    np.testing.assert_array_equal(check_sequences(nested)[0], [[1.0, 2.0]])
