"""PyTorch export: ``pipeline.to_torch()`` gives netspec's outputs and
gradients to 1e-10 in float64, for every registered layer and the options
the exporter treats apart, in inference and in training; ``torch.export``
writes a program that runs without netspec."""

import subprocess
import sys

import numpy as np
import pytest
from interop_cases import assert_close, inputs, layer_cases, option_cases

import netspec
from netspec.errors import InteropError
from netspec.registry import REGISTRY
from netspec.runtime.activations import Activation

torch = pytest.importorskip("torch")

CASES = layer_cases() + option_cases()


def test_every_layer_has_a_case():
    assert {entry.name for entry in REGISTRY.entries("layer")} <= {case.type for case in CASES}


class Objective:
    """A stand-in loss whose gradient w.r.t. the output is ``weights``: the
    objective ``sum(output · weights)``, so every output's gradient is checked."""

    from_logits = False

    def __init__(self, weights):
        self.weights = weights

    def backward(self, output, targets):
        return self.weights


def torch_inputs(X):
    values = X.values() if isinstance(X, dict) else [X]
    return [torch.tensor(x, requires_grad=True) for x in values]


def netspec_layout(gradient, shape):
    """A PyTorch parameter's gradient in netspec's layout: Linear weights
    transposed, convolution kernels from (filters, in, *kernel) to (*kernel, in, filters)."""
    if gradient is None:  # a layer no path leads from to the output: netspec gives it zeros
        return np.zeros(shape)
    array = gradient.detach().numpy()
    if array.ndim == 2:
        array = array.T
    elif array.ndim > 2:
        array = array.transpose(*range(2, array.ndim), 1, 0)
    return array.reshape(shape)


def step_modules(module, shapes):
    if isinstance(module, torch.nn.Sequential):
        return [module.get_submodule(step.name.replace(".", "_")) for step in shapes.layers]
    return list(module.steps)


@pytest.mark.parametrize("mode", ["inference", "training"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_outputs_and_gradients_are_netspecs(case, mode):
    training = mode == "training"
    if training and any(layer.get("type") == "dropout" for layer in case.spec["layers"]):
        pytest.skip("dropout's masks are random, and PyTorch draws its own")
    pipeline = netspec.compile(case.spec)
    if any(hasattr(layer, "moving_mean") for layer in pipeline.layers):
        pipeline.forward(inputs(pipeline, 8, seed=5) * 3 + 1, training=True)
    module = pipeline.to_torch()
    module.train(training)
    X = inputs(pipeline, 5)
    received = torch_inputs(X)
    output = module(*received)
    expected = pipeline.forward(X, training=training)
    assert_close(output.detach().numpy(), expected, "float64")

    weights = np.random.default_rng(1).normal(size=expected.shape)
    pipeline.loss_function = Objective(weights)
    pipeline.backward(None)
    (output * torch.tensor(weights)).sum().backward()
    shapes = netspec.infer(pipeline.spec)
    first = pipeline.layers[0]
    if pipeline.graph is None and not hasattr(first, "backward_parameters"):  # a first layer with parameters skips it
        assert_close(received[0].grad.numpy(), first.dinputs, "float64")
    for step, layer, torch_module in zip(shapes.layers, pipeline.layers, step_modules(module, shapes)):
        trained = [p for p in torch_module.parameters() if p.requires_grad]
        assert len(trained) == len(layer.parameters()), step.name
        for parameter, gradient, theirs in zip(layer.parameters(), layer.gradients(), trained):
            assert_close(netspec_layout(theirs.grad, parameter.shape), gradient, "float64")
    for layer, torch_module in zip(pipeline.layers, step_modules(module, shapes)):
        if hasattr(layer, "moving_mean"):
            batch_norm = next(m for m in torch_module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
            assert_close(batch_norm.running_mean.numpy(), layer.moving_mean, "float64")
            assert_close(batch_norm.running_var.numpy(), layer.moving_variance, "float64")


def test_a_chain_is_a_sequential_named_after_its_layers():
    spec = {"input": {"shape": [8, 8, 1]}, "layers": [
        {"type": "conv2d", "filters": 2, "kernel_size": 3, "activation": "relu"}, {"type": "max_pool2d"},
        {"type": "flatten"}, {"type": "dense", "neurons": 2}]}
    module = netspec.compile(spec).to_torch()
    assert isinstance(module, torch.nn.Sequential)
    assert list(dict(module.named_children())) == ["conv2d_1_channels_first", "conv2d_1", "relu_1", "max_pool2d_1",
                                                   "flatten_1_channels_last", "flatten_1", "dense_1"]
    assert isinstance(module.dense_1, torch.nn.Linear)


def test_weights_are_copies_in_the_pipelines_dtype():
    pipeline = netspec.compile({"input": {"features": 3}, "dtype": "float32",
                                "layers": [{"type": "dense", "neurons": 2}]})
    before = pipeline.layers[0].weights.copy()
    module = pipeline.to_torch()
    assert module.dense_1.weight.dtype == torch.float32
    assert np.array_equal(module.dense_1.weight.detach().numpy().T, before)
    with torch.no_grad():
        module.dense_1.weight += 1
    assert np.array_equal(pipeline.layers[0].weights, before)


def test_training_continues_in_pytorch():
    pipeline = netspec.compile({"input": {"features": 2}, "seed": 0, "loss": "mse",
                                "layers": [{"type": "dense", "neurons": 8, "activation": "tanh"},
                                           {"type": "dense", "neurons": 1}]})
    X = np.random.default_rng(0).uniform(-1, 1, size=(64, 2))
    y = X[:, :1] * X[:, 1:]
    module = pipeline.to_torch()
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
    first = None
    for _ in range(200):
        optimizer.zero_grad()
        loss = ((module(torch.tensor(X)) - torch.tensor(y)) ** 2).mean()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert first == pytest.approx(pipeline.loss(X, y), rel=1e-12)
    assert loss.item() < first / 4


def test_torch_export_writes_a_program_that_runs_without_netspec(tmp_path):
    from netspec.interop.torch import save_exported

    pipeline = netspec.compile(next(c for c in CASES if c.id == "cnn").spec)
    path = tmp_path / "model.pt2"
    save_exported(pipeline, path)
    X = inputs(pipeline, 3)
    np.save(tmp_path / "x.npy", X)
    code = ("import sys; sys.modules['netspec'] = None\n"
            "import numpy as np, torch\n"
            f"program = torch.export.load({str(path)!r}).module()\n"
            f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
            f"np.save({str(tmp_path / 'y.npy')!r}, program(torch.tensor(x)).detach().numpy())\n"
            f"np.save({str(tmp_path / 'y1.npy')!r}, program(torch.tensor(x[:1])).detach().numpy())\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=tmp_path)
    assert_close(np.load(tmp_path / "y.npy"), pipeline.forward(X), "float64")
    assert_close(np.load(tmp_path / "y1.npy"), pipeline.forward(X[:1]), "float64")


def test_torch_export_of_a_graph_with_two_inputs(tmp_path):
    from netspec.interop.torch import save_exported

    pipeline = netspec.compile(next(c for c in CASES if c.id == "graph-two-inputs").spec)
    save_exported(pipeline, tmp_path / "graph.pt2")
    program = torch.export.load(tmp_path / "graph.pt2").module()
    X = inputs(pipeline, 4)
    assert_close(program(*torch_inputs(X)).detach().numpy(), pipeline.forward(X), "float64")


def _register_double():
    class DoubleRuntime(Activation):
        def __init__(self, name="double"):
            self.name = name

        def forward(self, inputs, training=False):
            return 2 * inputs

        def backward(self, dvalues):
            return 2 * dvalues

    @netspec.register_activation("double", runtime=DoubleRuntime)
    class Double(netspec.Activation):
        """2x."""

    return netspec.compile({"input": {"features": 2}, "layers": [{"type": "dense", "neurons": 3}, {"type": "double"}]})


def test_a_layer_without_exporter_is_named(clean_registry):
    pipeline = _register_double()
    with pytest.raises(InteropError, match=r"layers\[1\] \(double_1\) is a double layer, and no PyTorch exporter"):
        pipeline.to_torch()


def test_a_registered_exporter_is_used(clean_registry, monkeypatch):
    from netspec import interop

    pipeline = _register_double()
    monkeypatch.setitem(interop.EXPORTERS, "torch", {})

    class Double(torch.nn.Module):
        def forward(self, inputs):
            return 2 * inputs

    interop.register_torch_exporter("double", lambda step, layer: Double())
    X = np.random.default_rng(0).normal(size=(4, 2))
    assert_close(pipeline.to_torch()(torch.tensor(X)).detach().numpy(), pipeline.forward(X), "float64")
