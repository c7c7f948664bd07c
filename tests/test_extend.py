"""Custom components: registered once, then valid, listed, in the schema, compiled and trained like built-ins."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import netspec as ns
from netspec import plugins
from netspec.cli import main
from netspec.gradients import check_all
from netspec.runtime.activations import Activation

PLUGIN = Path(__file__).resolve().parent.parent / "examples" / "plugins" / "netspec-swish"


class CubeRuntime(Activation):
    """x³ · scale."""

    def __init__(self, scale=1.0, name="cube"):
        self.scale, self.name = scale, name

    def forward(self, inputs, training=False):
        self.inputs = inputs
        self.output = self.scale * inputs**3
        return self.output

    def backward(self, dvalues):
        self.dinputs = dvalues * 3 * self.scale * self.inputs**2
        return self.dinputs


class WrongCubeRuntime(CubeRuntime):
    def backward(self, dvalues):
        self.dinputs = dvalues * 2 * self.scale * self.inputs**2
        return self.dinputs


def register_cube(runtime=CubeRuntime, name="cube"):
    @ns.register_activation(name, runtime=runtime)
    class Cube(ns.Activation):
        """scale · x³."""

        scale: float = 1.0

    return Cube


def test_a_registered_activation_is_valid_in_specs(clean_registry):
    Cube = register_cube()
    spec = ns.load({"input": {"features": 2}, "loss": "mse",
                    "layers": [{"type": "dense", "neurons": 3, "activation": {"type": "cube", "scale": 0.5}},
                               {"type": "cube"}, {"type": "dense", "neurons": 1}]})
    assert spec.layers[0].activation == Cube(scale=0.5)
    assert Cube().type == "cube"


def test_a_registered_component_is_checked_with_paths_and_hints(clean_registry):
    register_cube()
    report = ns.validate({"input": {"features": 2}, "layers": [{"type": "cube", "scal": 2}, {"type": "cubee"}]})
    found = {(d.where, d.code): d for d in report.errors}
    assert found[("layers[0].scal", "unknown-key")].hint == 'did you mean "scale"?'
    assert found[("layers[1].type", "unknown-type")].hint.startswith('did you mean "cube"?')


def test_a_registered_component_is_in_the_schema_and_the_listing(clean_registry, capsys):
    register_cube()
    assert "cube" in json.dumps(ns.json_schema())
    main(["list", "activation"])
    out = capsys.readouterr().out
    assert "cube" in out and "scale · x³." in out and "scale: float = 1.0" in out


def test_a_registered_component_compiles_and_trains(clean_registry):
    register_cube()
    pipeline = ns.compile({"input": {"features": 1}, "seed": 0, "loss": "mse",
                           "layers": [{"type": "dense", "neurons": 4, "activation": "cube"}, {"type": "dense", "neurons": 1}],
                           "train": {"optimizer": {"type": "adam", "learning_rate": 0.01}, "epochs": 200}})
    assert type(pipeline.layers[1]) is CubeRuntime
    X = np.linspace(-1, 1, 32).reshape(-1, 1)
    history = pipeline.fit(X, X**3, verbose=0)
    assert history["loss"][-1] < history["loss"][0] / 10


def test_built_ins_and_users_share_one_registry(clean_registry):
    register_cube()
    assert {"relu", "cube"} <= set(clean_registry.names("activation"))
    with pytest.raises(ValueError, match="already registered"):
        register_cube()


def test_replacing_needs_to_be_asked_for(clean_registry):
    register_cube()

    @ns.register_activation("cube", runtime=WrongCubeRuntime, replace=True)
    class Cube(ns.Activation):
        scale: float = 1.0

    assert type(ns.compile({"input": {"features": 1}, "layers": [{"type": "cube"}]}).layers[0]) is WrongCubeRuntime


def test_registration_refuses_an_incomplete_runtime_or_a_wrong_type_field(clean_registry):
    class NoBackward:
        def forward(self, inputs, training=False):
            return inputs

    with pytest.raises(TypeError, match="lacks backward, parameters, gradients"):
        ns.register_activation("half", runtime=NoBackward)
    with pytest.raises(ValueError, match="registered as 'cube'"):
        @ns.register_activation("cube", runtime=CubeRuntime)
        class Cube(ns.Activation):
            type: str = "cubic"


def test_wrong_gradients_are_caught(clean_registry, capsys):
    register_cube()
    register_cube(runtime=WrongCubeRuntime, name="wrong_cube")
    assert ns.check_gradients("cube").ok
    report = ns.check_gradients("wrong_cube")
    assert not report.ok and report.error > 1e-2
    assert main(["check-gradients", "cube"]) == 0
    assert main(["check-gradients", "wrong_cube"]) == 1
    assert "WRONG" in capsys.readouterr().out


def test_every_built_in_has_right_gradients():
    reports = check_all()
    assert {r.name for r in reports} >= {"dense", "relu", "softmax", "mse", "categorical_crossentropy"}
    assert all(r.ok for r in reports), [str(r) for r in reports if not r.ok]


def test_check_gradients_of_a_parameterised_instance_and_unknown_names():
    assert ns.check_gradients(ns.Dense(5, bias=False)).ok
    assert ns.check_gradients(ns.CategoricalCrossentropy(from_logits=True)).ok
    with pytest.raises(ns.SpecError, match="no layer, activation or loss"):
        ns.check_gradients("nope")
    with pytest.raises(ns.SpecError, match="no backward pass"):
        ns.check_gradients(ns.Adam())


# ---------------------------------------------------------------- plugins through entry points

def install_plugin(tmp_path, value="netspec_swish"):
    """Make the example plugin importable and discoverable, as pip would."""
    info = tmp_path / "netspec_swish-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: netspec-swish\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[netspec.components]\nswish = {value}\n")
    return [str(tmp_path), str(PLUGIN)]


@pytest.fixture
def plugin_path(tmp_path, monkeypatch, clean_registry):
    paths = install_plugin(tmp_path)
    for path in paths:
        monkeypatch.syspath_prepend(path)
    monkeypatch.setattr(plugins, "_loaded", {})
    yield paths
    sys.modules.pop("netspec_swish", None)


def test_plugins_register_through_entry_points(plugin_path):
    results = [r for r in plugins.load_plugins() if r.name == "swish"]
    assert results and results[0].ok
    spec = ns.load({"input": {"features": 1}, "loss": {"type": "huber", "delta": 0.5},
                    "layers": [{"type": "dense", "neurons": 4, "activation": {"type": "swish", "beta": 2.0}},
                               {"type": "dense", "neurons": 1}]})
    assert spec.loss.delta == 0.5
    assert ns.check_gradients("swish").ok and ns.check_gradients("huber").ok
    assert ns.check_gradients("channel_scale").ok
    assert ns.check_gradients("channel_scale", in_shape=(4, 4, 3)).ok


def test_a_plugin_layer_has_a_shape_rule_on_tensors(plugin_path):
    plugins.load_plugins()
    tree = {"input": {"shape": [6, 6, 3]}, "layers": [{"type": "conv2d", "filters": 5, "kernel_size": 3},
                                                       {"type": "channel_scale", "initial": 0.5}]}
    shapes = ns.infer(tree)
    assert (shapes.layers[1].out_shape, shapes.layers[1].parameters) == ((4, 4, 5), 5)
    out = ns.compile(tree).forward(np.ones((2, 6, 6, 3)))
    assert out.shape == (2, 4, 4, 5)
    [d] = ns.validate({"input": 5000, "layers": [{"type": "channel_scale"}]}).errors
    assert (d.where, d.code) == ("layers[0]", "bad-shape")
    assert d.message == ("layers[0] (channel_scale_1): channel_scale takes at most 4096 channels, "
                         "but receives the input's 5,000 features")


def test_a_broken_plugin_is_reported_not_fatal(tmp_path, monkeypatch, clean_registry):
    for path in install_plugin(tmp_path, value="netspec_no_such_module"):
        monkeypatch.syspath_prepend(path)
    monkeypatch.setattr(plugins, "_loaded", {})
    [result] = [r for r in plugins.load_plugins() if r.name == "swish"]
    assert not result.ok and "ModuleNotFoundError" in result.error


def test_the_cli_picks_up_plugins(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(install_plugin(tmp_path))}
    done = subprocess.run([sys.executable, "-m", "netspec", "list", "activation"], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0 and "swish" in done.stdout
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"input": {"features": 2}, "layers": [{"type": "swish", "beta": 2}]}))
    done = subprocess.run([sys.executable, "-m", "netspec", "validate", str(spec)], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([sys.executable, "-m", "netspec", "check-gradients", "swish", "huber"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "swish: ok" in done.stdout and "huber: ok" in done.stdout


# ---------------------------------------------------------------- convolution, pooling and reshaping

TENSOR_LAYERS = ["conv2d", "conv1d", "max_pool2d", "avg_pool2d", "max_pool1d", "avg_pool1d", "global_avg_pool",
                 "global_max_pool", "flatten", "reshape"]


@pytest.mark.parametrize("name", TENSOR_LAYERS)
def test_check_gradients_of_each_tensor_layer_by_name(name):
    report = ns.check_gradients(name)  # the input shape is the first its rule accepts
    assert report.ok, str(report)
    assert (report.name, report.kind) == (name, "layer")
    parameters = [c for c in report.checks if c.what != "inputs"]
    assert len(parameters) == (2 if name.startswith("conv") else 0)


@pytest.mark.parametrize("component", [
    ns.Conv2D(2, 3, strides=2, padding="same"),
    ns.Conv2D(3, [2, 3], strides=[2, 1], dilation=[1, 2], bias=False),
    ns.Conv1D(2, 3, padding="same", dilation=2),
    ns.Conv1D(2, 2, strides=2, activation="tanh"),
    ns.MaxPool2D(3, strides=1, padding="same"),
    ns.AvgPool2D([2, 3], strides=[1, 2], padding="same"),
    ns.MaxPool1D(3, strides=2, padding="same"),
    ns.AvgPool1D(3, strides=1),
    ns.Reshape([-1, 2]),
], ids=repr)
def test_check_gradients_of_parameterised_tensor_layers(component):
    report = ns.check_gradients(component)
    assert report.ok, str(report)


def test_check_gradients_on_a_given_shape_and_a_shape_no_rule_takes():
    assert ns.check_gradients("conv2d", in_shape=(5, 4, 3)).ok
    assert ns.check_gradients(ns.GlobalMaxPool(), in_shape=(3, 4, 2)).ok
    assert ns.check_gradients("flatten", in_shape=(3, 4, 2)).ok and ns.check_gradients("softmax", in_shape=(5, 3)).ok
    with pytest.raises(ns.SpecError, match="refuses every sample shape tried") as caught:
        ns.check_gradients(ns.Conv2D(1, 7))  # 7×7: larger than every image tried
    assert caught.value.errors[0].code == "bad-shape"
