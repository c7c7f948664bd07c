import numpy as np
import pytest

from netspec.runtime.initializers import (
    INITIALIZERS,
    glorot_uniform,
    he_normal,
    normal,
    uniform,
    zeros,
)

OPTIONS = {
    "uniform": {"low": -0.5, "high": 0.5},
    "normal": {"mean": 0.0, "std": 0.1},
    "glorot_uniform": {},
    "he_normal": {},
    "zeros": {},
}


def assert_bit_identical(actual, expected):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


# Legacy RandomState: the tutorial's global-seed code, bit for bit.


def test_legacy_uniform_is_the_tutorials_scaled_rand_for_two_layers():
    np.random.seed(42)
    w1 = 0.1 * np.random.rand(4, 10)
    w2 = 0.1 * np.random.rand(10, 3)
    rng = np.random.RandomState(42)
    assert_bit_identical(uniform((4, 10), rng, np.float64, low=0, high=0.1), w1)
    assert_bit_identical(uniform((10, 3), rng, np.float64, low=0.0, high=0.1), w2)


def test_legacy_uniform_with_a_nonzero_low():
    np.random.seed(7)
    expected = -0.3 + (0.5 - -0.3) * np.random.rand(3, 2)
    assert_bit_identical(uniform((3, 2), np.random.RandomState(7), np.float64, low=-0.3, high=0.5), expected)


def test_legacy_normal_is_the_tutorials_scaled_randn_for_two_layers():
    np.random.seed(0)
    w1 = 0.01 * np.random.randn(2, 64)
    w2 = 0.01 * np.random.randn(64, 3)
    rng = np.random.RandomState(0)
    assert_bit_identical(normal((2, 64), rng, np.float64, mean=0, std=0.01), w1)
    assert_bit_identical(normal((64, 3), rng, np.float64, mean=0.0, std=0.01), w2)


def test_legacy_glorot_and_he_make_one_draw_each():
    np.random.seed(3)
    limit = np.sqrt(6 / (5 + 2))
    glorot = -limit + (limit - -limit) * np.random.rand(5, 2)
    he = np.sqrt(2 / 2) * np.random.randn(2, 4)
    after = np.random.rand()
    rng = np.random.RandomState(3)
    assert_bit_identical(glorot_uniform((5, 2), rng, np.float64), glorot)
    assert_bit_identical(he_normal((2, 4), rng, np.float64), he)
    assert rng.rand() == after


def test_zeros_draws_nothing():
    rng = np.random.RandomState(1)
    assert_bit_identical(zeros((2, 3), rng, np.float64), np.zeros((2, 3)))
    assert rng.rand() == np.random.RandomState(1).rand()
    generator = np.random.default_rng(1)
    zeros((2, 3), generator, np.float32)
    assert generator.random() == np.random.default_rng(1).random()


# Generator.


def test_generator_draws():
    assert_bit_identical(
        uniform((3, 4), np.random.default_rng(5), np.float64, low=-1, high=2),
        np.random.default_rng(5).uniform(-1, 2, (3, 4)),
    )
    assert_bit_identical(
        normal((3, 4), np.random.default_rng(5), np.float64, mean=1, std=3),
        np.random.default_rng(5).normal(1, 3, (3, 4)),
    )


def test_glorot_uniform_range():
    weights = glorot_uniform((300, 200), np.random.default_rng(0), np.float64)
    limit = np.sqrt(6 / 500)
    assert weights.min() >= -limit and weights.max() < limit
    assert weights.min() < -0.99 * limit and weights.max() > 0.99 * limit


def test_he_normal_spread():
    weights = he_normal((500, 400), np.random.default_rng(0), np.float64)
    assert abs(weights.mean()) < 0.002
    assert weights.std() == pytest.approx(np.sqrt(2 / 500), rel=0.01)


# Every initializer, both kinds of rng: shape, dtype, drawn in float64 then cast.


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
@pytest.mark.parametrize("make_rng", [np.random.RandomState, np.random.default_rng], ids=["legacy", "generator"])
def test_float32_is_the_float64_draw_cast(name, make_rng):
    initializer = INITIALIZERS[name]
    single = initializer((4, 3), make_rng(9), np.float32, **OPTIONS[name])
    double = initializer((4, 3), make_rng(9), np.float64, **OPTIONS[name])
    assert single.shape == (4, 3) and single.dtype == np.float32
    assert_bit_identical(single, double.astype(np.float32))


def test_table():
    assert INITIALIZERS == {
        "uniform": uniform,
        "normal": normal,
        "glorot_uniform": glorot_uniform,
        "he_normal": he_normal,
        "zeros": zeros,
    }


# Fans: dense (in, out) as before; convolution kernels (*kernel, in_channels, out_channels).


def test_fans():
    from netspec.runtime.initializers import fans

    assert fans((4, 3)) == (4, 3)
    assert fans((5, 2, 4)) == (5 * 2, 5 * 4)  # Conv1D (k, in, out)
    assert fans((3, 3, 2, 8)) == (9 * 2, 9 * 8)  # Conv2D (kh, kw, in, out)
    assert fans((2, 2, 2, 3, 4)) == (8 * 3, 8 * 4)
    assert fans((1, 1, 6, 5)) == (6, 5)  # a 1×1 kernel is a dense layer
    assert fans((7,)) == (7, 7)
    assert fans([np.int64(3), np.int64(2)]) == (3, 2)
    with pytest.raises(ValueError, match="expected .* received"):
        fans(())


def test_legacy_glorot_and_he_on_conv_kernels_make_one_draw_each():
    np.random.seed(11)
    limit = np.sqrt(6 / (9 * 2 + 9 * 8))
    glorot = -limit + (limit - -limit) * np.random.rand(3, 3, 2, 8)
    he = np.sqrt(2 / (5 * 4)) * np.random.randn(5, 4, 6)
    after = np.random.rand()
    rng = np.random.RandomState(11)
    assert_bit_identical(glorot_uniform((3, 3, 2, 8), rng, np.float64), glorot)
    assert_bit_identical(he_normal((5, 4, 6), rng, np.float64), he)
    assert rng.rand() == after


def test_conv_kernel_spread_uses_the_receptive_field():
    weights = glorot_uniform((5, 5, 16, 32), np.random.default_rng(0), np.float64)
    limit = np.sqrt(6 / (25 * 16 + 25 * 32))
    assert weights.shape == (5, 5, 16, 32)
    assert weights.min() >= -limit and weights.max() < limit
    assert weights.min() < -0.99 * limit and weights.max() > 0.99 * limit
    weights = he_normal((3, 3, 64, 64), np.random.default_rng(0), np.float32)
    assert weights.dtype == np.float32
    assert weights.std() == pytest.approx(np.sqrt(2 / (9 * 64)), rel=0.01)
