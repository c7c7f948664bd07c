import re

import numpy as np
import pytest

from netspec.runtime.optimizers import OPTIMIZERS, SGD, Adagrad, Adam, AdamW, RMSprop

CLOSE = dict(rtol=1e-15, atol=0)

# One of each optimizer, every slot kind represented.
CONFIGS = [
    (SGD, dict(learning_rate=0.1)),
    (SGD, dict(learning_rate=0.1, momentum=0.9, decay=0.1)),
    (SGD, dict(learning_rate=0.1, momentum=0.9, nesterov=True)),
    (Adam, dict(learning_rate=0.01, decay=0.05)),
    (RMSprop, dict(learning_rate=0.01)),
    (SGD, dict(learning_rate=0.1, momentum=0.9, decay=0.1, momentum_buffer="steps")),
    (SGD, dict(learning_rate=0.1, momentum=0.9, nesterov=True, momentum_buffer="steps")),
    (AdamW, dict(learning_rate=0.01, weight_decay=0.1)),
    (Adagrad, dict(learning_rate=0.1, initial_accumulator_value=0.1, decay=0.01)),
]
CONFIG_IDS = ["sgd", "momentum", "nesterov", "adam", "rmsprop", "momentum_steps", "nesterov_steps", "adamw", "adagrad"]


def make_parameters(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(3, 2)).astype(dtype), rng.normal(size=(1, 2)).astype(dtype)]


def gradient_sequence(steps, dtype=np.float64):
    rng = np.random.default_rng(1)
    return [[rng.normal(size=(3, 2)).astype(dtype), rng.normal(size=(1, 2)).astype(dtype)] for _ in range(steps)]


def run(optimizer, parameters, gradients):
    for step_gradients in gradients:
        optimizer.step(parameters, step_gradients)


def test_sgd_one_step_is_p_minus_lr_g():
    (p,), (g,) = make_parameters()[:1], gradient_sequence(1)[0][:1]
    expected = p - 0.1 * g
    SGD(learning_rate=0.1).step([p], [g])
    np.testing.assert_allclose(p, expected, **CLOSE)


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
def test_two_momentum_steps_by_hand(nesterov):
    lr, mu = 0.1, 0.9
    p = np.array([1.0, -2.0])
    g1, g2 = np.array([0.5, 1.5]), np.array([-1.0, 0.25])
    buf1, buf2 = g1, mu * g1 + g2
    if nesterov:
        expected = p - lr * (g1 + mu * buf1) - lr * (g2 + mu * buf2)
    else:
        expected = p - lr * buf1 - lr * buf2
    optimizer = SGD(learning_rate=lr, momentum=mu, nesterov=nesterov)
    optimizer.step([p], [g1])
    optimizer.step([p], [g2])
    np.testing.assert_allclose(p, expected, **CLOSE)


def book_sgd(parameter, gradients, learning_rate, decay, momentum):
    """The from-scratch book's SGD with momentum, line by line: the rate
    decayed before each step, then ``weight_updates = momentum *
    weight_momentums - current_learning_rate * dweights``, ``weights += weight_updates``."""
    weights, weight_momentums = parameter.copy(), np.zeros_like(parameter)
    for iterations, dweights in enumerate(gradients):
        current_learning_rate = learning_rate * (1.0 / (1.0 + decay * iterations))
        weight_updates = momentum * weight_momentums - current_learning_rate * dweights
        weight_momentums = weight_updates
        weights += weight_updates
    return weights


def test_steps_momentum_is_the_books_sgd_under_decay_for_twenty_steps():
    parameter, gradients = make_parameters()[0], [g[0] for g in gradient_sequence(20)]
    expected = book_sgd(parameter, gradients, learning_rate=1.0, decay=0.1, momentum=0.9)
    optimizer = SGD(learning_rate=1.0, momentum=0.9, decay=0.1, momentum_buffer="steps")
    run(optimizer, [parameter], [[g] for g in gradients])
    np.testing.assert_allclose(parameter, expected, rtol=1e-12, atol=1e-12)


def test_steps_nesterov_adds_momentum_times_velocity_minus_the_scaled_gradient():
    lr, mu = 0.1, 0.9
    p = np.array([1.0, -2.0])
    g1, g2 = np.array([0.5, 1.5]), np.array([-1.0, 0.25])
    v1 = -lr * g1
    v2 = mu * v1 - lr * g2
    expected = p + (mu * v1 - lr * g1) + (mu * v2 - lr * g2)
    optimizer = SGD(learning_rate=lr, momentum=mu, nesterov=True, momentum_buffer="steps")
    optimizer.step([p], [g1])
    optimizer.step([p], [g2])
    np.testing.assert_allclose(p, expected, rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
def test_the_two_momentum_buffers_agree_at_a_constant_rate_and_part_under_decay(nesterov):
    gradients = gradient_sequence(10)
    results = {}
    for decay in (0.0, 0.2):
        for form in SGD.MOMENTUM_BUFFERS:
            parameters = make_parameters()
            run(SGD(learning_rate=0.1, momentum=0.9, nesterov=nesterov, decay=decay, momentum_buffer=form),
                parameters, gradients)
            results[decay, form] = parameters
    for constant, other in zip(results[0.0, "gradients"], results[0.0, "steps"]):
        np.testing.assert_allclose(constant, other, rtol=1e-12, atol=1e-14)
    assert not np.allclose(results[0.2, "gradients"][0], results[0.2, "steps"][0], rtol=1e-6)


def test_a_changing_rate_parts_the_two_forms_from_its_second_step():
    # The first decayed step (t = 1) uses the same rate in both: the buffer holds only g0.
    p1, p2 = make_parameters(), make_parameters()
    gradients = gradient_sequence(3)
    one = SGD(learning_rate=0.1, momentum=0.9, decay=0.5)
    other = SGD(learning_rate=0.1, momentum=0.9, decay=0.5, momentum_buffer="steps")
    for step, step_gradients in enumerate(gradients):
        one.step(p1, step_gradients)
        other.step(p2, step_gradients)
        same = all(np.allclose(a, b, rtol=1e-14, atol=1e-15) for a, b in zip(p1, p2))
        assert same == (step == 0)


def test_adamw_shrinks_by_lr_times_decay_before_the_adam_step():
    parameter, gradient = np.array([2.0, -1.0]), np.array([0.3, 0.4])
    expected = parameter * (1 - 0.01 * 0.1)
    Adam(learning_rate=0.01).step([expected], [gradient])
    AdamW(learning_rate=0.01, weight_decay=0.1).step([parameter], [gradient])
    np.testing.assert_array_equal(parameter, expected)


def test_adagrad_divides_by_the_root_of_every_squared_gradient_so_far():
    lr, eps, start = 0.5, 1e-7, 0.1
    p = np.array([1.0, -2.0])
    g1, g2 = np.array([0.5, 1.5]), np.array([-1.0, 0.25])
    sum1 = start + g1**2
    sum2 = sum1 + g2**2
    expected = p - lr * g1 / (np.sqrt(sum1) + eps) - lr * g2 / (np.sqrt(sum2) + eps)
    optimizer = Adagrad(learning_rate=lr, initial_accumulator_value=start, epsilon=eps)
    optimizer.step([p], [g1])
    optimizer.step([p], [g2])
    np.testing.assert_allclose(p, expected, rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(optimizer.state_dict()["sum.0"], sum2, rtol=1e-15)


def test_adam_first_step_is_lr_g_over_abs_g_plus_epsilon():
    lr, eps = 0.01, 1e-7
    p, g = np.zeros(4), np.array([3.0, -0.5, 1e-7, 0.0])
    Adam(learning_rate=lr, epsilon=eps).step([p], [g])
    np.testing.assert_allclose(-p, lr * g / (np.abs(g) + eps), **CLOSE)
    np.testing.assert_allclose(-p, [lr, -lr, lr / 2, 0], rtol=1e-6)


def test_rmsprop_first_step():
    lr, rho, eps = 0.01, 0.9, 1e-7
    p, g = np.zeros(3), np.array([3.0, -0.5, 0.0])
    RMSprop(learning_rate=lr, rho=rho, epsilon=eps).step([p], [g])
    np.testing.assert_allclose(-p, lr * g / (np.sqrt((1 - rho) * g**2) + eps), **CLOSE)


def test_decay_schedule():
    optimizer = SGD(learning_rate=1.0, decay=0.5)
    p, g = np.zeros(1), np.ones(1)
    rates = []
    for _ in range(4):
        rates.append(optimizer.current_learning_rate)
        optimizer.step([p], [g])
    assert rates == [1.0, 1 / 1.5, 1 / 2.0, 1 / 2.5]
    assert optimizer.iterations == 4
    np.testing.assert_allclose(p, [-sum(rates)], **CLOSE)


@pytest.mark.parametrize("cls, options", CONFIGS, ids=CONFIG_IDS)
def test_updates_the_given_arrays_in_place(cls, options):
    parameters = make_parameters()
    originals, starts = list(parameters), [p.copy() for p in parameters]
    cls(**options).step(parameters, gradient_sequence(1)[0])
    for parameter, original, start in zip(parameters, originals, starts):
        assert parameter is original
        assert not np.array_equal(parameter, start)


@pytest.mark.parametrize("cls, options", CONFIGS, ids=CONFIG_IDS)
def test_float32_stays_float32(cls, options):
    parameters = make_parameters(np.float32)
    optimizer = cls(**options)
    run(optimizer, parameters, gradient_sequence(3, np.float32))
    assert all(p.dtype == np.float32 for p in parameters)
    assert all(value.dtype == np.float32 for key, value in optimizer.state_dict().items() if key != "iterations")


@pytest.mark.parametrize(
    "cls, options, keys",
    [
        (SGD, {}, {"iterations"}),
        (SGD, dict(momentum=0.9), {"iterations", "momentum.0", "momentum.1"}),
        (Adam, {}, {"iterations", "m.0", "m.1", "v.0", "v.1"}),
        (RMSprop, {}, {"iterations", "cache.0", "cache.1"}),
    ],
    ids=["sgd", "momentum", "adam", "rmsprop"],
)
def test_state_dict_keys(cls, options, keys):
    optimizer = cls(**options)
    assert optimizer.state_dict() == {"iterations": 0}
    optimizer.step(make_parameters(), gradient_sequence(1)[0])
    state = optimizer.state_dict()
    assert set(state) == keys
    assert state["iterations"] == 1


def test_state_dict_is_a_snapshot():
    optimizer, parameters = Adam(), make_parameters()
    gradients = gradient_sequence(2)
    optimizer.step(parameters, gradients[0])
    state = optimizer.state_dict()
    saved = state["m.0"].copy()
    optimizer.step(parameters, gradients[1])
    np.testing.assert_array_equal(state["m.0"], saved)
    assert state["iterations"] == 1


@pytest.mark.parametrize("cls, options", CONFIGS, ids=CONFIG_IDS)
def test_resume_from_npz_is_bit_for_bit(cls, options, tmp_path):
    gradients = gradient_sequence(8)
    uninterrupted, expected = cls(**options), make_parameters()
    run(uninterrupted, expected, gradients)

    first, parameters = cls(**options), make_parameters()
    run(first, parameters, gradients[:3])
    np.savez(tmp_path / "state.npz", **first.state_dict())
    with np.load(tmp_path / "state.npz", allow_pickle=False) as saved:
        resumed = cls(**options)
        resumed.load_state_dict(dict(saved))
    run(resumed, parameters, gradients[3:])

    assert resumed.iterations == 8
    for actual, wanted in zip(parameters, expected):
        np.testing.assert_array_equal(actual, wanted)


def adam_state(steps=1):
    optimizer = Adam()
    run(optimizer, make_parameters(), gradient_sequence(steps))
    return optimizer.state_dict()


@pytest.mark.parametrize(
    "load, message",
    [
        (lambda: RMSprop().load_state_dict(adam_state()), r"unexpected keys \['m.0', 'm.1', 'v.0', 'v.1'\]"),
        (lambda: SGD().load_state_dict(adam_state()), "unexpected keys"),
        (lambda: Adam().load_state_dict({"m.0": np.zeros(2)}), "no 'iterations'"),
        (lambda: Adam().load_state_dict({**adam_state(), "iterations": -1}), "integer >= 0"),
        (lambda: Adam().load_state_dict({**adam_state(), "iterations": 1.5}), "integer >= 0"),
        (lambda: Adam().load_state_dict({"iterations": 3}), "cannot be resumed exactly"),
        (lambda: Adam().load_state_dict({k: v for k, v in adam_state().items() if k != "v.1"}), r"missing.*v\.1"),
        (lambda: Adam().load_state_dict(adam_state(), make_parameters()[:1]), "holds 2 'm' arrays but there are 1"),
        (lambda: Adam().load_state_dict(adam_state(), make_parameters()[::-1]), r"'m.0' has shape \(3, 2\)"),
        (lambda: Adam().load_state_dict(adam_state(), make_parameters(np.float32)), "dtype float64"),
    ],
    ids=["other-optimizer", "no-slots-expected", "no-iterations", "negative-iterations", "float-iterations",
         "slots-missing", "one-slot-missing", "count-now", "shape-now", "dtype-now"],
)
def test_mismatched_state_raises(load, message):
    with pytest.raises(ValueError, match=message):
        load()


def test_mismatched_state_raises_on_the_next_step_and_leaves_parameters_alone():
    optimizer = Adam()
    optimizer.load_state_dict(adam_state())
    parameters = make_parameters()[::-1]
    starts = [p.copy() for p in parameters]
    with pytest.raises(ValueError, match="belongs to a different network"):
        optimizer.step(parameters, [np.ones_like(p) for p in parameters])
    for parameter, start in zip(parameters, starts):
        np.testing.assert_array_equal(parameter, start)


def test_mismatched_gradients_raise():
    parameters = make_parameters()
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        SGD().step(parameters, parameters[:1])
    with pytest.raises(ValueError, match=r"gradient 1 has shape \(3, 2\) but parameter 1 has shape \(1, 2\)"):
        SGD().step(parameters, [parameters[0], parameters[0]])


def test_tutorial_momentum_equals_ours_at_constant_learning_rate():
    lr, mu = 0.05, 0.9
    ours, tutorial = make_parameters(), make_parameters()
    updates = [np.zeros_like(p) for p in tutorial]
    optimizer = SGD(learning_rate=lr, momentum=mu)
    for gradients in gradient_sequence(20):
        optimizer.step(ours, gradients)
        for parameter, update, gradient in zip(tutorial, updates, gradients):
            update[...] = mu * update - lr * gradient
            parameter += update
    for actual, expected in zip(ours, tutorial):
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "cls, options",
    [(SGD, dict(learning_rate=0.05)), (SGD, dict(learning_rate=0.05, momentum=0.9, decay=0.01)),
     (SGD, dict(learning_rate=0.05, momentum=0.5, nesterov=True)), (Adam, dict(learning_rate=0.05)),
     (RMSprop, dict(learning_rate=0.01, decay=0.01)),
     (SGD, dict(learning_rate=0.05, momentum=0.9, decay=0.01, momentum_buffer="steps")),
     (SGD, dict(learning_rate=0.05, momentum=0.5, nesterov=True, momentum_buffer="steps")),
     (AdamW, dict(learning_rate=0.05)), (Adagrad, dict(learning_rate=0.5))],
    ids=CONFIG_IDS,
)
def test_minimising_a_convex_quadratic_decreases_it(cls, options):
    # f(p) = ½‖A p − b‖², ∇f = Aᵀ(A p − b); the minimum is the least-squares solution.
    rng = np.random.default_rng(3)
    A, b = rng.normal(size=(6, 3)), rng.normal(size=6)
    p = np.zeros(3)

    def f():
        return 0.5 * np.sum((A @ p - b) ** 2)

    start, optimizer = f(), cls(**options)
    for _ in range(200):
        optimizer.step([p], [A.T @ (A @ p - b)])
    minimum = 0.5 * np.sum((A @ np.linalg.lstsq(A, b, rcond=None)[0] - b) ** 2)
    assert f() - minimum < 0.5 * (start - minimum)


@pytest.mark.parametrize(
    "cls, options, name",
    [
        (SGD, dict(learning_rate=0.0), "learning_rate"),
        (SGD, dict(learning_rate=float("inf")), "learning_rate"),
        (Adam, dict(learning_rate="0.1"), "learning_rate"),
        (SGD, dict(momentum=1.0), "momentum"),
        (SGD, dict(momentum=-0.1), "momentum"),
        (SGD, dict(nesterov=True), "nesterov"),
        (SGD, dict(momentum=0.9, nesterov=1), "nesterov"),
        (Adam, dict(beta1=1.0), "beta1"),
        (Adam, dict(beta2=float("nan")), "beta2"),
        (Adam, dict(epsilon=0.0), "epsilon"),
        (RMSprop, dict(rho=1.5), "rho"),
        (RMSprop, dict(epsilon=-1e-7), "epsilon"),
        (RMSprop, dict(decay=-0.1), "decay"),
        (Adam, dict(decay=True), "decay"),
        (SGD, dict(momentum=0.9, momentum_buffer="velocity"), "momentum_buffer"),
        (AdamW, dict(weight_decay=-0.1), "weight_decay"),
        (Adagrad, dict(initial_accumulator_value=float("nan")), "initial_accumulator_value"),
        (Adagrad, dict(epsilon=0.0), "epsilon"),
    ],
)
def test_invalid_arguments_name_what_was_expected_and_received(cls, options, name):
    received = re.escape(f"Received: {name}={options[name]!r}")
    with pytest.raises(ValueError, match=rf"`{name}`, expected .*{received}"):
        cls(**options)


def test_repr_shows_hyperparameters():
    assert repr(SGD(momentum=0.9)) == "SGD(learning_rate=0.01, momentum=0.9, nesterov=False, decay=0.0)"
    assert repr(Adam()) == "Adam(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-07, decay=0.0)"
    assert repr(RMSprop(decay=1e-3)) == "RMSprop(learning_rate=0.001, rho=0.9, epsilon=1e-07, decay=0.001)"
    assert repr(SGD(momentum=0.9, momentum_buffer="steps")) == \
        "SGD(learning_rate=0.01, momentum=0.9, nesterov=False, decay=0.0, momentum_buffer='steps')"
    assert repr(AdamW()) == \
        "AdamW(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-07, weight_decay=0.01, decay=0.0)"
    assert repr(Adagrad()) == "Adagrad(learning_rate=0.001, initial_accumulator_value=0.0, epsilon=1e-07, decay=0.0)"


def test_optimizers_table():
    assert OPTIMIZERS == {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad, "adamw": AdamW}


@pytest.mark.parametrize("cls, options", CONFIGS, ids=CONFIG_IDS)
def test_a_step_allocates_no_parameter_sized_temporary(cls, options):
    import tracemalloc

    rng = np.random.default_rng(0)
    parameters = [rng.normal(size=(500, 400)), rng.normal(size=(1, 400))]
    gradients = [rng.normal(size=p.shape) for p in parameters]
    optimizer = cls(**options)
    optimizer.step(parameters, gradients)  # creates the slots and the work buffers
    tracemalloc.start()
    try:
        optimizer.step(parameters, gradients)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < parameters[0].nbytes / 10


def test_scratch_buffers_do_not_change_results_across_parameter_sizes():
    # The work buffer grows for a larger parameter and is shared by smaller ones;
    # each update must equal the formula applied to that parameter alone.
    sizes = [(2, 3), (50, 40), (1, 40), (7, 7)]
    rng = np.random.default_rng(3)
    parameters = [rng.normal(size=s) for s in sizes]
    steps = [[rng.normal(size=s) for s in sizes] for _ in range(3)]
    together = Adam(learning_rate=0.01)
    alone = [Adam(learning_rate=0.01) for _ in sizes]
    separate = [p.copy() for p in parameters]
    for gradients in steps:
        together.step(parameters, gradients)
        for optimizer, parameter, gradient in zip(alone, separate, gradients):
            optimizer.step([parameter], [gradient])
    for a, b in zip(parameters, separate):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(3, 2), (128, 128), (200, 300)], ids=["small", "at-the-limit", "large"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_steps_are_the_formula_bit_for_bit_small_or_large(shape, dtype):
    # Arrays up to SMALL values take a temporary, larger ones the scratch array: the same values.
    rng = np.random.default_rng(4)
    p, g = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    plain, momentum = p.copy(), p.copy()
    buffer = np.zeros_like(p)
    plain_sgd, momentum_sgd = SGD(learning_rate=0.1), SGD(learning_rate=0.1, momentum=0.9)
    for _ in range(2):
        expected = p - np.multiply(0.1, g)
        buffer = 0.9 * buffer + g
        expected_momentum = momentum - np.multiply(0.1, buffer)
        plain_sgd.step([plain], [g])
        momentum_sgd.step([momentum], [g])
        np.testing.assert_array_equal(plain, expected)
        np.testing.assert_array_equal(momentum, expected_momentum)
        p = expected
