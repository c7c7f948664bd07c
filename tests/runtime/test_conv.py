"""Convolution, pooling and reshaping layers: closed forms, finite differences,
the protocol, and parity with a reference implementation (float64, 1e-10)."""

import itertools

import numpy as np
import pytest

from netspec.geometry import padding_amounts
from netspec.runtime.conv import (
    AvgPool1D,
    AvgPool2D,
    Conv1D,
    Conv2D,
    Flatten,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool1D,
    MaxPool2D,
    Reshape,
)
from netspec.runtime.gradcheck import check_layer


def assert_gradients(layer, inputs, seed=0):
    checks = check_layer(layer, inputs, np.random.default_rng(seed))
    failed = [(c.what, c.error) for c in checks if not c.ok]
    assert not failed, failed
    return checks


def reference_conv2d(inputs, weights, bias, strides, pads, dilation):
    """The definition, one output element at a time (small inputs only)."""
    (sh, sw), (dh, dw) = strides, dilation
    (top, bottom), (left, right) = pads
    padded = np.pad(inputs, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw, _, filters = weights.shape
    oh = (padded.shape[1] - dh * (kh - 1) - 1) // sh + 1
    ow = (padded.shape[2] - dw * (kw - 1) - 1) // sw + 1
    output = np.zeros((inputs.shape[0], oh, ow, filters))
    for b, i, j in itertools.product(range(inputs.shape[0]), range(oh), range(ow)):
        window = padded[b, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw, :]
        output[b, i, j] = np.tensordot(window, weights, axes=3) + (0 if bias is None else bias)
    return output


# Closed forms.


def test_conv2d_against_the_definition():
    rng = np.random.default_rng(1)
    inputs, weights, bias = rng.normal(size=(2, 7, 6, 3)), rng.normal(size=(3, 2, 3, 4)), rng.normal(size=4)
    for strides, padding, dilation in itertools.product([(1, 1), (2, 1), (2, 3)], ["valid", "same"], [(1, 1), (2, 1)]):
        layer = Conv2D(weights, bias, strides=strides, padding=padding, dilation=dilation)
        pads = [padding_amounts(n, k, s, padding, d) for n, k, s, d in zip((7, 6), (3, 2), strides, dilation)]
        expected = reference_conv2d(inputs, weights, bias, strides, pads, dilation)
        np.testing.assert_allclose(layer.forward(inputs), expected, rtol=1e-12, atol=1e-12)


def test_conv1d_by_hand():
    # one channel, kernel [1, 2], "same" with an even kernel pads one zero at the end
    inputs = np.array([[[1.0], [2.0], [3.0]]])
    layer = Conv1D(np.array([[[1.0]], [[2.0]]]), np.array([0.5]), padding="same")
    np.testing.assert_array_equal(layer.forward(inputs)[0, :, 0], [1 + 4 + 0.5, 2 + 6 + 0.5, 3 + 0 + 0.5])
    layer = Conv1D(np.array([[[1.0]], [[2.0]]]), strides=2)
    np.testing.assert_array_equal(layer.forward(inputs)[0, :, 0], [5.0])  # the last element is dropped


def test_pools_by_hand():
    inputs = np.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(MaxPool2D().forward(inputs)[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(AvgPool2D().forward(inputs)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    # 3×3 "same" stride 2 on 4×4: total padding 1, at the end; the last windows average only real elements
    np.testing.assert_array_equal(MaxPool2D(3, 2, "same").forward(inputs)[0, :, :, 0], [[10, 11], [14, 15]])
    np.testing.assert_allclose(AvgPool2D(3, 2, "same").forward(inputs)[0, :, :, 0],
                               [[5.0, 6.5], [11.0, 12.5]])
    np.testing.assert_array_equal(MaxPool1D(3, 1, "same").forward(np.array([[[1.0], [3.0], [2.0]]]))[0, :, 0], [3, 3, 3])
    np.testing.assert_array_equal(AvgPool1D(2, 1).forward(np.array([[[1.0], [3.0], [2.0]]]))[0, :, 0], [2, 2.5])
    np.testing.assert_array_equal(GlobalAvgPool().forward(inputs), [[7.5]])
    np.testing.assert_array_equal(GlobalMaxPool().forward(inputs), [[15.0]])


def test_pool_strides_default_to_the_pool_size():
    assert MaxPool2D((3, 2)).strides == (3, 2)
    assert AvgPool1D(4).strides == (4,)
    assert MaxPool2D(3, 1).strides == (1, 1)
    assert MaxPool2D().forward(np.zeros((1, 7, 5, 2))).shape == (1, 3, 2, 2)


# Finite differences, every layer and option (float64).

SHAPES_2D = [(2, 7, 6, 3), (2, 6, 8, 2)]  # odd and even sizes


@pytest.mark.parametrize("shape", SHAPES_2D, ids=["odd", "even"])
@pytest.mark.parametrize("strides", [1, 2, (2, 1)])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_conv2d_gradients(shape, strides, padding, dilation, bias):
    rng = np.random.default_rng(2)
    layer = Conv2D(rng.normal(size=(3, 2, shape[-1], 4)), rng.normal(size=4) if bias else None,
                   strides=strides, padding=padding, dilation=dilation)
    assert_gradients(layer, rng.normal(size=shape))


@pytest.mark.parametrize(("channels", "kernel"), [(1, (3, 3)), (24, (3, 3)), (24, (2, 3)), (3, (1, 1)), (24, (1, 1))],
                         ids=["one_channel", "wide", "wide_even_kernel", "pointwise", "wide_pointwise"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dilation", [1, 2])
def test_conv2d_gradients_every_code_path(channels, kernel, padding, dilation):
    # One input channel copies windows in the transposed order; 24 channels or more
    # at stride 1 take the input gradient as a convolution of dvalues; 1×1 needs no copy.
    rng = np.random.default_rng(3)
    layer = Conv2D(rng.normal(size=(*kernel, channels, 2)), rng.normal(size=2), padding=padding, dilation=dilation)
    assert_gradients(layer, rng.normal(size=(1, 5, 6, channels)))


@pytest.mark.parametrize("filters", [16, 40])
def test_conv2d_many_filters(filters):
    # 16 filters or more add the bias per row rather than per sample
    rng = np.random.default_rng(18)
    weights, bias = rng.normal(size=(3, 3, 2, filters)), rng.normal(size=filters)
    inputs = rng.normal(size=(2, 5, 4, 2))
    layer = Conv2D(weights, bias, padding="same")
    expected = reference_conv2d(inputs, weights, bias, (1, 1), [(1, 1), (1, 1)], (1, 1))
    np.testing.assert_allclose(layer.forward(inputs), expected, rtol=1e-12, atol=1e-12)
    assert_gradients(layer, inputs)


@pytest.mark.parametrize("length", [9, 8])
@pytest.mark.parametrize("kernel", [1, 2, 3])
@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_conv1d_gradients(length, kernel, strides, padding, dilation, bias):
    rng = np.random.default_rng(4)
    layer = Conv1D(rng.normal(size=(kernel, 2, 3)), rng.normal(size=3) if bias else None,
                   strides=strides, padding=padding, dilation=dilation)
    assert_gradients(layer, rng.normal(size=(2, length, 2)))


@pytest.mark.parametrize("channels", [1, 24])
def test_conv1d_gradients_every_code_path(channels):
    rng = np.random.default_rng(5)
    for padding, dilation in itertools.product(["valid", "same"], [1, 2]):
        layer = Conv1D(rng.normal(size=(3, channels, 2)), rng.normal(size=2), padding=padding, dilation=dilation)
        assert_gradients(layer, rng.normal(size=(2, 7, channels)))


POOL_OPTIONS = [(2, None, "valid"), (3, 2, "valid"), (3, 1, "valid"), (2, None, "same"), (3, 2, "same"),
                (3, 1, "same"), (2, 3, "valid"), ((3, 2), (1, 2), "same")]


@pytest.mark.parametrize("pool", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize(("pool_size", "strides", "padding"), POOL_OPTIONS, ids=str)
@pytest.mark.parametrize("shape", [(2, 7, 6, 2), (1, 8, 8, 3)], ids=["odd", "even"])
def test_pool2d_gradients(pool, pool_size, strides, padding, shape):
    # random normal inputs: no ties, so the max is differentiable everywhere
    assert_gradients(pool(pool_size, strides, padding), np.random.default_rng(6).normal(size=shape))


@pytest.mark.parametrize("pool", [MaxPool1D, AvgPool1D])
@pytest.mark.parametrize(("pool_size", "strides", "padding"), [o for o in POOL_OPTIONS if not isinstance(o[0], tuple)],
                         ids=str)
@pytest.mark.parametrize("length", [9, 8])
def test_pool1d_gradients(pool, pool_size, strides, padding, length):
    assert_gradients(pool(pool_size, strides, padding), np.random.default_rng(7).normal(size=(2, length, 3)))


@pytest.mark.parametrize("layer", [GlobalAvgPool(), GlobalMaxPool(), Flatten(), Reshape((-1, 2)), Reshape((3, 4, 2))],
                         ids=repr)
@pytest.mark.parametrize("shape", [(2, 3, 4, 2), (3, 6, 4)], ids=["2d", "1d"])
def test_parameterless_gradients(layer, shape):
    assert_gradients(layer, np.random.default_rng(8).normal(size=shape))


# The protocol.


def every_layer(dtype=np.float64):
    rng = np.random.default_rng(9)
    return [
        (Conv2D(rng.normal(size=(3, 3, 2, 4)).astype(dtype), rng.normal(size=4).astype(dtype), padding="same"),
         (2, 6, 5, 2)),
        (Conv2D(rng.normal(size=(3, 3, 24, 4)).astype(dtype), None), (2, 6, 5, 24)),
        (Conv2D(rng.normal(size=(3, 3, 1, 4)).astype(dtype), rng.normal(size=4).astype(dtype), strides=2), (2, 6, 5, 1)),
        (Conv1D(rng.normal(size=(3, 2, 4)).astype(dtype), rng.normal(size=4).astype(dtype), dilation=2), (2, 9, 2)),
        (MaxPool2D(3, 2, "same"), (2, 6, 5, 2)), (AvgPool2D(3, 2, "same"), (2, 6, 5, 2)),
        (MaxPool1D(), (2, 9, 2)), (AvgPool1D(), (2, 9, 2)),
        (GlobalAvgPool(), (2, 6, 5, 2)), (GlobalMaxPool(), (2, 6, 5, 2)),
        (Flatten(), (2, 6, 5, 2)), (Reshape((5, -1)), (2, 6, 5, 2)),
    ]


@pytest.mark.parametrize("index", range(len(every_layer())))
def test_protocol(index):
    layer, shape = every_layer()[index]
    inputs = np.random.default_rng(10).normal(size=shape)
    output = layer.forward(inputs, training=True)
    assert output is layer.output and layer.inputs is inputs
    dvalues = np.ones_like(output)
    dinputs = layer.backward(dvalues)
    assert dinputs is layer.dinputs and dinputs.shape == inputs.shape
    assert len(layer.parameters()) == len(layer.gradients())
    for parameter, gradient in zip(layer.parameters(), layer.gradients()):
        assert gradient.shape == parameter.shape
    assert repr(layer).startswith(type(layer).__name__ + "(") and repr(layer).endswith(f"name={layer.name!r})")


@pytest.mark.parametrize("index", range(len(every_layer())))
def test_float32_stays_float32(index):
    single, shape = every_layer(np.float32)[index]
    double, _ = every_layer(np.float64)[index]
    inputs = np.random.default_rng(11).normal(size=shape)
    output = single.forward(inputs.astype(np.float32))
    assert output.dtype == np.float32
    np.testing.assert_allclose(output, double.forward(inputs), rtol=1e-4, atol=1e-4)
    dvalues = np.random.default_rng(12).normal(size=output.shape)
    dinputs = single.backward(dvalues.astype(np.float32))
    assert dinputs.dtype == np.float32
    np.testing.assert_allclose(dinputs, double.backward(dvalues), rtol=1e-4, atol=1e-4)
    assert all(g.dtype == np.float32 for g in single.gradients())


def test_parameters_are_the_given_arrays_in_order():
    weights, bias = np.ones((3, 3, 2, 4)), np.zeros(4)
    layer = Conv2D(weights, bias)
    assert layer.parameters()[0] is weights and layer.parameters()[1] is bias
    assert Conv2D(weights).parameters() == [weights]
    assert (layer.kernel_size, layer.in_channels, layer.filters, layer.dtype) == ((3, 3), 2, 4, np.float64)


def test_conv1d_keeps_one_dimensional_arrays():
    weights, bias = np.ones((5, 2, 3)), np.zeros(3)
    layer = Conv1D(weights, bias)
    layer.forward(np.ones((4, 9, 2)))
    layer.backward(np.ones((4, 5, 3)))
    assert [p.shape for p in layer.parameters()] == [(5, 2, 3), (3,)]
    assert [g.shape for g in layer.gradients()] == [(5, 2, 3), (3,)]
    assert layer.parameters()[0] is weights


@pytest.mark.parametrize("layer", [
    Conv2D(np.random.default_rng(13).normal(size=(3, 3, 2, 4)), np.ones(4), strides=2, padding="same"),
    Conv2D(np.random.default_rng(13).normal(size=(2, 2, 1, 3))),
    Conv1D(np.random.default_rng(13).normal(size=(3, 2, 4)), np.ones(4), dilation=2),
], ids=repr)
def test_backward_parameters_matches_backward(layer):
    rng = np.random.default_rng(14)
    shape = (3, 7, 6, layer.in_channels) if isinstance(layer, Conv2D) else (3, 9, layer.in_channels)
    output = layer.forward(rng.normal(size=shape))
    dvalues = rng.normal(size=output.shape)
    layer.backward(dvalues)
    expected = [g.copy() for g in layer.gradients()]
    layer.backward_parameters(2 * dvalues)
    for gradient, value in zip(layer.gradients(), expected):
        np.testing.assert_allclose(gradient, 2 * value, rtol=1e-14)


def test_gradient_buffers_are_reused():
    rng = np.random.default_rng(15)
    layer = Conv2D(rng.normal(size=(3, 3, 2, 4)), rng.normal(size=4), padding="same")
    inputs = rng.normal(size=(2, 5, 5, 2))
    layer.forward(inputs)
    layer.backward(np.ones((2, 5, 5, 4)))
    dweights, dbiases = layer.dweights, layer.dbiases
    first = [g.copy() for g in layer.gradients()]
    layer.forward(2 * inputs)
    layer.backward(np.ones((2, 5, 5, 4)))
    assert layer.dweights is dweights and layer.dbiases is dbiases
    assert layer.gradients()[0] is dweights and layer.gradients()[1] is dbiases
    np.testing.assert_allclose(layer.dweights, 2 * first[0])  # overwritten, not accumulated
    np.testing.assert_allclose(layer.dbiases, first[1])
    layer.backward_parameters(np.ones((2, 5, 5, 4)))
    assert layer.dweights is dweights and layer.dbiases is dbiases


def test_forward_reuses_its_window_matrix_and_stays_correct():
    rng = np.random.default_rng(16)
    weights = rng.normal(size=(3, 3, 8, 2))
    layer = Conv2D(weights, padding="same")
    a, b = rng.normal(size=(2, 5, 5, 8)), rng.normal(size=(2, 5, 5, 8))
    layer.forward(a)
    buffer = layer._buffer
    out_b = layer.forward(b).copy()
    assert layer._buffer is buffer
    np.testing.assert_allclose(out_b, Conv2D(weights, padding="same").forward(b))
    np.testing.assert_allclose(layer.forward(a), Conv2D(weights, padding="same").forward(a))
    # another batch size and another spatial size, then back
    np.testing.assert_allclose(layer.forward(b[:1]), Conv2D(weights, padding="same").forward(b[:1]))
    c = rng.normal(size=(2, 6, 4, 8))
    np.testing.assert_allclose(layer.forward(c), Conv2D(weights, padding="same").forward(c))
    np.testing.assert_allclose(layer.forward(a), Conv2D(weights, padding="same").forward(a))


def test_non_contiguous_inputs():
    rng = np.random.default_rng(17)
    layer = Conv2D(rng.normal(size=(3, 3, 3, 2)), padding="same")
    inputs = rng.normal(size=(2, 3, 6, 5)).transpose(0, 2, 3, 1)  # (2, 6, 5, 3), not contiguous
    np.testing.assert_allclose(layer.forward(inputs), Conv2D(layer.weights, padding="same").forward(inputs.copy()))
    valid = Conv2D(layer.weights, strides=2, dilation=(1, 2))  # windows read straight from the strided inputs
    np.testing.assert_allclose(valid.forward(inputs), Conv2D(layer.weights, strides=2, dilation=(1, 2)).forward(inputs.copy()))
    pool = MaxPool2D(3, 2, "same")
    np.testing.assert_array_equal(pool.forward(inputs), MaxPool2D(3, 2, "same").forward(inputs.copy()))


# Ties: the first maximum of each window, in row-major window order, gets the whole gradient.


def test_max_pool_routes_ties_to_the_first_maximum():
    layer = MaxPool2D()
    inputs = np.zeros((1, 4, 4, 1))  # every element of every window ties (as after a ReLU)
    layer.forward(inputs)
    dinputs = layer.backward(np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1))
    np.testing.assert_array_equal(dinputs[0, :, :, 0], [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]])
    # a tie between the second and fourth elements: the second (row-major) wins
    inputs = np.array([[0.0, 5.0], [1.0, 5.0]]).reshape(1, 2, 2, 1)
    layer.forward(inputs)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 1)))[0, :, :, 0], [[0, 1], [0, 0]])


def test_max_pool_ties_with_overlapping_windows_accumulate():
    layer = MaxPool1D(3, 1)
    inputs = np.array([2.0, 2.0, 2.0, 1.0, 2.0]).reshape(1, 5, 1)
    layer.forward(inputs)
    # windows [0:3], [1:4], [2:5] have first maxima at 0, 1, 2
    np.testing.assert_array_equal(layer.backward(np.array([1.0, 10.0, 100.0]).reshape(1, 3, 1))[0, :, 0],
                                  [1, 10, 100, 0, 0])
    layer = MaxPool1D(3, 2, "same")  # 4 elements: pads one -inf at the end
    inputs = np.array([1.0, 3.0, 3.0, 3.0]).reshape(1, 4, 1)
    np.testing.assert_array_equal(layer.forward(inputs)[0, :, 0], [3, 3])
    np.testing.assert_array_equal(layer.backward(np.array([1.0, 10.0]).reshape(1, 2, 1))[0, :, 0], [0, 1, 10, 0])


def test_global_max_pool_routes_ties_to_the_first_maximum():
    layer = GlobalMaxPool()
    inputs = np.array([[1.0, 7.0], [7.0, 7.0]]).reshape(1, 2, 2, 1)
    np.testing.assert_array_equal(layer.forward(inputs), [[7.0]])
    np.testing.assert_array_equal(layer.backward(np.array([[5.0]]))[0, :, :, 0], [[0, 5], [0, 0]])


# Flatten and Reshape.


def test_flatten_is_channels_last_c_order():
    inputs = np.arange(24.0).reshape(2, 2, 3, 2)
    layer = Flatten()
    output = layer.forward(inputs)
    assert output.shape == (2, 12)
    np.testing.assert_array_equal(output[0], np.arange(12.0))  # h·W·C + w·C + c
    assert layer.backward(output * 2).shape == inputs.shape
    assert layer.parameters() == [] and layer.gradients() == []


def test_reshape():
    layer = Reshape((3, -1))
    assert layer.forward(np.zeros((2, 4, 3))).shape == (2, 3, 4)
    assert Reshape([2, 6]).forward(np.zeros((5, 12))).shape == (5, 2, 6)
    assert repr(layer) == "Reshape((3, -1), name='reshape')"
    for bad in [(-1, -1), (0, 2), (2.5,), (True,)]:
        with pytest.raises(ValueError, match="expected .* received"):
            Reshape(bad)
    with pytest.raises(ValueError, match="expected inputs of 10 values per sample .* received shape"):
        Reshape((2, 5)).forward(np.zeros((1, 12)))
    with pytest.raises(ValueError, match="expected .* received shape"):
        Reshape((5, -1)).forward(np.zeros((1, 12)))


# Validation.


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Conv2D(np.zeros((3, 3, 2))), r"Conv2D weights: expected rank 4 .* received shape \(3, 3, 2\)"),
    (lambda: Conv1D(np.zeros((3, 3, 2, 1))), r"Conv1D weights: expected rank 3 .* received shape \(3, 3, 2, 1\)"),
    (lambda: Conv2D(np.zeros((3, 3, 2, 4)), np.zeros((1, 4))), r"bias: expected shape \(4,\) .* received shape \(1, 4\)"),
    (lambda: Conv2D(np.zeros((3, 3, 2, 4)), padding="full"), "Conv2D padding: expected one of 'valid', 'same'; received 'full'"),
    (lambda: Conv2D(np.zeros((3, 3, 2, 4)), strides=(1, 2, 3)), "strides: expected an integer or a sequence of 2 integers"),
    (lambda: Conv1D(np.zeros((3, 2, 4)), dilation=0), "dilation: expected a positive integer; received 0"),
    (lambda: MaxPool2D(0), "pool_size: expected a positive integer; received 0"),
    (lambda: AvgPool1D(2, strides=(1, 1)), "strides: expected an integer or a sequence of 1 integer; received"),
])
def test_constructor_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_input_validation():
    layer = Conv2D(np.zeros((3, 3, 2, 4)), name="c")
    with pytest.raises(ValueError, match=r"Conv2D 'c': expected 2 input channels .* received shape \(1, 5, 5, 3\)"):
        layer.forward(np.zeros((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"expected inputs of rank 4 .* received shape \(1, 5, 5\)"):
        layer.forward(np.zeros((1, 5, 5)))
    with pytest.raises(ValueError, match=r"expected inputs at least as large as the window \(3, 3\) .* \(2, 5\)"):
        layer.forward(np.zeros((1, 2, 5, 2)))
    assert layer.forward(np.zeros((1, 3, 3, 2))).shape == (1, 1, 1, 4)
    with pytest.raises(ValueError, match="expected inputs of rank 3"):
        MaxPool1D().forward(np.zeros((1, 4, 4, 1)))
    with pytest.raises(ValueError, match="expected inputs .* of rank 3 or more; received shape"):
        GlobalAvgPool().forward(np.zeros((2, 3)))


def test_reprs():
    assert repr(Conv2D(np.zeros((3, 3, 2, 4)), np.zeros(4))) == "Conv2D(2 → 4, kernel=(3, 3), name='conv2d')"
    assert repr(Conv2D(np.zeros((3, 3, 2, 4)), strides=2, padding="same", dilation=(1, 2), name="c1")) == (
        "Conv2D(2 → 4, kernel=(3, 3), strides=(2, 2), padding='same', dilation=(1, 2), bias=False, name='c1')")
    assert repr(Conv1D(np.zeros((5, 1, 8)), np.zeros(8))) == "Conv1D(1 → 8, kernel=(5,), name='conv1d')"
    assert repr(MaxPool2D()) == "MaxPool2D(pool_size=(2, 2), strides=(2, 2), padding='valid', name='max_pool2d')"
    assert repr(AvgPool1D(3, 1, "same", name="p")) == "AvgPool1D(pool_size=(3,), strides=(1,), padding='same', name='p')"
    assert repr(GlobalAvgPool()) == "GlobalAvgPool(name='global_avg_pool')"
    assert repr(Flatten()) == "Flatten(name='flatten')"


# Parity with the reference implementation, float64.


class TestReference:
    """Layouts are explicit: inputs NHWC -> NCHW by ``permute(0, 3, 1, 2)``, 2-D
    weights (kh, kw, in, out) -> (out, in, kh, kw) by ``transpose(3, 2, 0, 1)``,
    1-D inputs NLC -> NCL by ``permute(0, 2, 1)`` and weights (k, in, out) ->
    (out, in, k) by ``transpose(2, 1, 0)``. "same" padding, possibly
    asymmetric, is applied explicitly with ``pad`` and the reference runs
    with padding 0."""

    @pytest.fixture(autouse=True)
    def _torch(self):
        self.torch = pytest.importorskip("torch")
        self.F = self.torch.nn.functional

    def tensor(self, array):
        return self.torch.tensor(np.ascontiguousarray(array), dtype=self.torch.float64, requires_grad=True)

    @staticmethod
    def close(actual, expected):
        expected = expected.detach().numpy() if hasattr(expected, "detach") else expected
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12)

    @pytest.mark.parametrize("strides", [(1, 1), (2, 2), (2, 1)])
    @pytest.mark.parametrize("padding", ["valid", "same"])
    @pytest.mark.parametrize("dilation", [(1, 1), (2, 2), (1, 2)])
    @pytest.mark.parametrize(("shape", "kernel"), [((3, 8, 7, 2), (3, 3)), ((2, 9, 8, 24), (2, 3)), ((2, 10, 9, 1), (5, 5))],
                             ids=["small", "wide", "one_channel"])
    def test_conv2d(self, strides, padding, dilation, shape, kernel):
        rng = np.random.default_rng(20)
        inputs, weights, bias = rng.normal(size=shape), rng.normal(size=(*kernel, shape[-1], 5)), rng.normal(size=5)
        layer = Conv2D(weights.copy(), bias.copy(), strides=strides, padding=padding, dilation=dilation)
        output = layer.forward(inputs)
        dvalues = rng.normal(size=output.shape)
        layer.backward(dvalues)

        x, w, b = self.tensor(inputs), self.tensor(weights.transpose(3, 2, 0, 1)), self.tensor(bias)
        (top, bottom), (left, right) = [padding_amounts(n, k, s, padding, d)
                                        for n, k, s, d in zip(shape[1:3], kernel, strides, dilation)]
        padded = self.F.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom))  # last axis first
        expected = self.F.conv2d(padded, w, b, stride=strides, padding=0, dilation=dilation)
        expected.backward(self.torch.tensor(dvalues).permute(0, 3, 1, 2))
        self.close(output, expected.permute(0, 2, 3, 1))
        self.close(layer.dinputs, x.grad)
        self.close(layer.dweights, w.grad.permute(2, 3, 1, 0))
        self.close(layer.dbiases, b.grad)

    @pytest.mark.parametrize("strides", [1, 2, 3])
    @pytest.mark.parametrize("padding", ["valid", "same"])
    @pytest.mark.parametrize("dilation", [1, 2])
    @pytest.mark.parametrize("channels", [2, 24])
    @pytest.mark.parametrize("kernel", [3, 4])
    def test_conv1d(self, strides, padding, dilation, channels, kernel):
        rng = np.random.default_rng(21)
        inputs, weights = rng.normal(size=(3, 11, channels)), rng.normal(size=(kernel, channels, 4))
        layer = Conv1D(weights.copy(), None, strides=strides, padding=padding, dilation=dilation)
        output = layer.forward(inputs)
        dvalues = rng.normal(size=output.shape)
        layer.backward(dvalues)

        x, w = self.tensor(inputs), self.tensor(weights.transpose(2, 1, 0))
        before, after = padding_amounts(11, kernel, strides, padding, dilation)
        expected = self.F.conv1d(self.F.pad(x.permute(0, 2, 1), (before, after)), w, None, stride=strides,
                                 dilation=dilation)
        expected.backward(self.torch.tensor(dvalues).permute(0, 2, 1))
        self.close(output, expected.permute(0, 2, 1))
        self.close(layer.dinputs, x.grad)
        self.close(layer.dweights, w.grad.permute(2, 1, 0))

    @pytest.mark.parametrize(("pool_size", "strides", "padding"), POOL_OPTIONS, ids=str)
    @pytest.mark.parametrize("shape", [(2, 7, 6, 3), (2, 8, 8, 2)], ids=["odd", "even"])
    def test_max_pool2d(self, pool_size, strides, padding, shape):
        rng = np.random.default_rng(22)
        inputs = rng.normal(size=shape)
        layer = MaxPool2D(pool_size, strides, padding)
        output = layer.forward(inputs)
        dvalues = rng.normal(size=output.shape)
        layer.backward(dvalues)

        x = self.tensor(inputs)
        (top, bottom), (left, right) = [padding_amounts(n, k, s, padding)
                                        for n, k, s in zip(shape[1:3], layer.pool_size, layer.strides)]
        padded = self.F.pad(x.permute(0, 3, 1, 2), (left, right, top, bottom), value=-np.inf)
        expected = self.F.max_pool2d(padded, layer.pool_size, layer.strides)
        expected.backward(self.torch.tensor(dvalues).permute(0, 3, 1, 2))
        self.close(output, expected.permute(0, 2, 3, 1))
        self.close(layer.dinputs, x.grad)

    @pytest.mark.parametrize(("pool_size", "strides", "padding"), POOL_OPTIONS, ids=str)
    @pytest.mark.parametrize("shape", [(2, 7, 6, 3), (2, 8, 8, 2)], ids=["odd", "even"])
    def test_avg_pool2d(self, pool_size, strides, padding, shape):
        # "same": the sum over the zero-padded window divided by the count of real
        # elements, both by the reference's pooling of the padded inputs and of ones
        rng = np.random.default_rng(23)
        inputs = rng.normal(size=shape)
        layer = AvgPool2D(pool_size, strides, padding)
        output = layer.forward(inputs)
        dvalues = rng.normal(size=output.shape)
        layer.backward(dvalues)

        x = self.tensor(inputs)
        (top, bottom), (left, right) = [padding_amounts(n, k, s, padding)
                                        for n, k, s in zip(shape[1:3], layer.pool_size, layer.strides)]
        pads = (left, right, top, bottom)
        nchw = x.permute(0, 3, 1, 2)
        sums = self.F.avg_pool2d(self.F.pad(nchw, pads), layer.pool_size, layer.strides)
        counts = self.F.avg_pool2d(self.F.pad(self.torch.ones_like(nchw), pads), layer.pool_size, layer.strides)
        expected = sums / counts
        expected.backward(self.torch.tensor(dvalues).permute(0, 3, 1, 2))
        self.close(output, expected.permute(0, 2, 3, 1))
        self.close(layer.dinputs, x.grad)

    def test_avg_pool2d_same_symmetric_is_count_include_pad_false(self):
        rng = np.random.default_rng(24)
        inputs = rng.normal(size=(2, 7, 5, 3))  # 3×3, stride 1: total padding 2, one each side
        layer = AvgPool2D(3, 1, "same")
        output = layer.forward(inputs)
        dvalues = rng.normal(size=output.shape)
        layer.backward(dvalues)
        x = self.tensor(inputs)
        expected = self.F.avg_pool2d(x.permute(0, 3, 1, 2), 3, 1, padding=1, count_include_pad=False)
        expected.backward(self.torch.tensor(dvalues).permute(0, 3, 1, 2))
        self.close(output, expected.permute(0, 2, 3, 1))
        self.close(layer.dinputs, x.grad)

    @pytest.mark.parametrize("pool", ["max", "avg"])
    @pytest.mark.parametrize(("pool_size", "strides", "padding"), [(2, None, "valid"), (3, 2, "valid"), (3, 2, "same"),
                                                                 (2, 1, "same")], ids=str)
    def test_pool1d(self, pool, pool_size, strides, padding):
        rng = np.random.default_rng(25)
        inputs = rng.normal(size=(2, 9, 3))
        layer = (MaxPool1D if pool == "max" else AvgPool1D)(pool_size, strides, padding)
        output = layer.forward(inputs)
        dvalues = rng.normal(size=output.shape)
        layer.backward(dvalues)
        x = self.tensor(inputs)
        pads = padding_amounts(9, layer.pool_size[0], layer.strides[0], padding)
        ncl = x.permute(0, 2, 1)
        if pool == "max":
            expected = self.F.max_pool1d(self.F.pad(ncl, pads, value=-np.inf), layer.pool_size, layer.strides)
        else:
            ones = self.torch.ones_like(ncl)
            expected = (self.F.avg_pool1d(self.F.pad(ncl, pads), layer.pool_size, layer.strides)
                        / self.F.avg_pool1d(self.F.pad(ones, pads), layer.pool_size, layer.strides))
        expected.backward(self.torch.tensor(dvalues).permute(0, 2, 1))
        self.close(output, expected.permute(0, 2, 1))
        self.close(layer.dinputs, x.grad)

    @pytest.mark.parametrize("shape", [(3, 5, 4, 2), (3, 7, 2)], ids=["2d", "1d"])
    def test_global_pools(self, shape):
        rng = np.random.default_rng(26)
        inputs = rng.normal(size=shape)
        axes = tuple(range(1, len(shape) - 1))
        for layer, reduce in [(GlobalAvgPool(), lambda t: t.mean(dim=axes)), (GlobalMaxPool(), lambda t: t.amax(dim=axes))]:
            output = layer.forward(inputs)
            dvalues = rng.normal(size=output.shape)
            layer.backward(dvalues)
            x = self.tensor(inputs)
            expected = reduce(x)
            expected.backward(self.torch.tensor(dvalues))
            self.close(output, expected)
            self.close(layer.dinputs, x.grad)

    def test_conv_pool_flatten_dense(self):
        # Flatten runs on channels-last arrays: the reference must permute NCHW -> NHWC
        # before flattening for the features to line up with the dense weights.
        rng = np.random.default_rng(27)
        inputs, kernel, bias = rng.normal(size=(4, 9, 8, 2)), rng.normal(size=(3, 3, 2, 3)), rng.normal(size=3)
        dense = rng.normal(size=(4 * 4 * 3, 5))
        layers = [Conv2D(kernel.copy(), bias.copy(), padding="same"), MaxPool2D(), Flatten()]
        hidden = inputs
        for layer in layers:
            hidden = layer.forward(hidden)
        output = hidden @ dense
        dvalues = rng.normal(size=output.shape)
        gradient = dvalues @ dense.T
        for layer in reversed(layers):
            gradient = layer.backward(gradient)

        x, w, b = self.tensor(inputs), self.tensor(kernel.transpose(3, 2, 0, 1)), self.tensor(bias)
        d = self.tensor(dense)
        nchw = self.F.conv2d(self.F.pad(x.permute(0, 3, 1, 2), (1, 1, 1, 1)), w, b)
        pooled = self.F.max_pool2d(nchw, 2)
        features = pooled.permute(0, 2, 3, 1).reshape(4, -1)  # NCHW -> NHWC, then flatten
        expected = features @ d
        expected.backward(self.torch.tensor(dvalues))
        self.close(output, expected)
        self.close(layers[2].output, features)
        self.close(gradient, x.grad)
        self.close(layers[0].dweights, w.grad.permute(2, 3, 1, 0))
        self.close(layers[0].dbiases, b.grad)
