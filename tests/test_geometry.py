import itertools
import math

import pytest

from netspec.geometry import as_tuple, check_padding, dilated, dropped, output_shape, output_size, padding_amounts

# (size, kernel, stride, padding, dilation) -> (out, (before, after), dropped)
CASES = [
    ((28, 5, 1, "valid", 1), (24, (0, 0), 0)),  # LeNet's first convolution
    ((28, 2, 2, "valid", 1), (14, (0, 0), 0)),  # 2×2 pooling
    ((7, 2, 2, "valid", 1), (3, (0, 0), 1)),  # the last row is never read
    ((7, 3, 2, "valid", 1), (3, (0, 0), 0)),
    ((8, 3, 2, "valid", 1), (3, (0, 0), 1)),
    ((10, 3, 3, "valid", 1), (3, (0, 0), 1)),
    ((9, 3, 1, "valid", 2), (5, (0, 0), 0)),  # dilated span 5
    ((10, 3, 2, "valid", 2), (3, (0, 0), 1)),
    ((4, 5, 1, "valid", 1), (0, (0, 0), 0)),  # smaller than the window: empty
    ((4, 3, 1, "valid", 2), (0, (0, 0), 0)),
    ((5, 5, 1, "valid", 1), (1, (0, 0), 0)),
    ((5, 3, 2, "same", 1), (3, (1, 1), 0)),  # total 2: symmetric
    ((6, 3, 2, "same", 1), (3, (0, 1), 0)),  # total 1: the odd one at the end
    ((6, 2, 2, "same", 1), (3, (0, 0), 0)),
    ((7, 2, 2, "same", 1), (4, (0, 1), 0)),
    ((28, 5, 1, "same", 1), (28, (2, 2), 0)),
    ((28, 4, 1, "same", 1), (28, (1, 2), 0)),  # even kernel: more at the end
    ((8, 3, 1, "same", 2), (8, (2, 2), 0)),
    ((8, 2, 1, "same", 3), (8, (1, 2), 0)),
    ((5, 1, 3, "same", 1), (2, (0, 0), 0)),  # stride above kernel: total clipped at 0
    ((1, 3, 1, "same", 1), (1, (1, 1), 0)),
    ((0, 3, 1, "same", 1), (0, (0, 0), 0)),
]


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[str(args) for args, _ in CASES])
def test_closed_forms(args, expected):
    out, pads, rest = expected
    assert output_size(*args) == out
    assert padding_amounts(*args) == pads
    assert dropped(*args) == rest


@pytest.mark.parametrize("size", range(1, 13))
@pytest.mark.parametrize("kernel", range(1, 5))
@pytest.mark.parametrize("stride", range(1, 4))
@pytest.mark.parametrize("dilation", range(1, 3))
def test_definitions_by_enumerating_windows(size, kernel, stride, dilation):
    span = dilation * (kernel - 1) + 1
    assert dilated(kernel, dilation) == span
    # valid: every start whose window fits; the rows after the last window are dropped
    starts = [s for s in range(0, size, stride) if s + span <= size]
    assert output_size(size, kernel, stride, "valid", dilation) == len(starts)
    assert padding_amounts(size, kernel, stride, "valid", dilation) == (0, 0)
    assert dropped(size, kernel, stride, "valid", dilation) == (size - (starts[-1] + span) if starts else 0)
    # same: ceil(size / stride) windows over the padded axis, every one inside it
    out = output_size(size, kernel, stride, "same", dilation)
    before, after = padding_amounts(size, kernel, stride, "same", dilation)
    assert out == math.ceil(size / stride)
    assert before <= after <= before + 1
    assert (out - 1) * stride + span == size + before + after or (before, after) == (0, 0)
    assert (out - 1) * stride + span <= size + before + after
    assert dropped(size, kernel, stride, "same", dilation) == 0


def test_output_shape_applies_each_axis():
    assert output_shape((28, 28), 5, 1, "valid") == (24, 24)
    assert output_shape((7, 6), (3, 2), (2, 1), "same", (1, 2)) == (4, 6)
    assert output_shape((9,), 3, 2, "valid", 2) == (3,)


def test_as_tuple():
    assert as_tuple(3, 2) == (3, 3)
    assert as_tuple((2, 1), 2) == (2, 1)
    assert as_tuple([4], 1) == (4,)
    for bad in [(1, 2, 3), 0, -1, True, 1.5, "2", (1, 0), None]:
        with pytest.raises(ValueError, match="expected .* received"):
            as_tuple(bad, 2, "strides")


@pytest.mark.parametrize("call", [
    lambda: output_size(5, 3, 1, "causal"),
    lambda: output_size(5, 0, 1, "valid"),
    lambda: output_size(5, 3, 0, "valid"),
    lambda: output_size(-1, 3, 1, "valid"),
    lambda: output_size(5, 3, 1, "valid", 0),
    lambda: padding_amounts(5, 3, 1, "SAME"),
    lambda: check_padding(None),
])
def test_invalid_arguments(call):
    with pytest.raises(ValueError, match="expected .* received"):
        call()


def test_pure_python():
    import netspec.geometry as geometry

    source = open(geometry.__file__).read()
    assert "numpy" not in source
    assert all(isinstance(v, int) for v in itertools.chain(padding_amounts(5, 3, 2, "same"), [output_size(5, 3, 2, "same")]))
