"""Specs that use every registered layer, for the exporters' tests.

Every layer type is placed on each input shape it accepts (a vector, a
sequence, an image), both reading the network's input and after a layer
that makes its input channels-first in ONNX and PyTorch (a convolution) or
a vector (dense); merge layers join two such branches. A layer type for
which no spec here validates has no case, which ``test_every_layer_has_a_case``
reports, so a new component is never left untested.
"""

from dataclasses import dataclass

import numpy as np

import netspec
from netspec.registry import REGISTRY

SHAPES = [(6,), (7, 3), (6, 5, 3)]
BEFORE = {
    1: {"type": "dense", "neurons": 6},
    2: {"type": "conv1d", "filters": 3, "kernel_size": 2, "padding": "same"},
    3: {"type": "conv2d", "filters": 3, "kernel_size": 2, "padding": "same"},
}


@dataclass(frozen=True)
class Case:
    id: str
    type: str
    spec: dict


def _valid(spec):
    return netspec.validate(spec).ok


def layer_cases():
    """One :class:`Case` per registered layer type, input shape and position."""
    cases = []
    for entry in REGISTRY.entries("layer"):
        example = dict(entry.example)
        for shape in SHAPES:
            where = "x".join(map(str, shape))
            if entry.params.merge:
                branches = [{**BEFORE[len(shape)], "name": name, "inputs": "input"} for name in ("a", "b")]
                spec = {"input": {"shape": list(shape)}, "seed": 0,
                        "layers": [*branches, {"type": entry.name, "inputs": ["a", "b"], **example}]}
                if _valid(spec):
                    cases.append(Case(f"{entry.name}-{where}", entry.name, spec))
                continue
            for before in (False, True):
                layers = [BEFORE[len(shape)]] if before else []
                spec = {"input": {"shape": list(shape)}, "seed": 0, "layers": [*layers, {"type": entry.name, **example}]}
                if _valid(spec):
                    cases.append(Case(f"{entry.name}-{where}{'-after-' + layers[0]['type'] if before else ''}",
                                      entry.name, spec))
    return cases


def option_cases():
    """Specs for the options and wirings the exporters treat specially."""
    image = {"shape": [9, 8, 2]}
    sequence = {"shape": [11, 2]}
    specs = {
        "conv2d-same-stride-odd-padding": (image, [{"type": "conv2d", "filters": 3, "kernel_size": 3,
                                                     "strides": 2, "padding": "same"}]),
        "conv2d-even-kernel-same": (image, [{"type": "conv2d", "filters": 2, "kernel_size": [2, 4],
                                              "padding": "same", "bias": False}]),
        "conv2d-dilation": (image, [{"type": "conv2d", "filters": 3, "kernel_size": [3, 2], "dilation": [2, 1],
                                     "strides": [1, 2]}]),
        "conv1d-same-strides": (sequence, [{"type": "conv1d", "filters": 4, "kernel_size": 4, "strides": 3,
                                            "padding": "same"}]),
        "conv1d-dilation-same": (sequence, [{"type": "conv1d", "filters": 2, "kernel_size": 3, "dilation": 2,
                                             "padding": "same", "activation": "tanh"}]),
        "max_pool2d-same-overlapping": (image, [{"type": "max_pool2d", "pool_size": 3, "strides": 2,
                                                 "padding": "same"}]),
        "avg_pool2d-same-overlapping": (image, [{"type": "avg_pool2d", "pool_size": 3, "strides": 2,
                                                 "padding": "same"}]),
        "avg_pool2d-same-stride-1": (image, [{"type": "avg_pool2d", "pool_size": 2, "strides": 1,
                                              "padding": "same"}]),
        "avg_pool2d-same-symmetric": (image, [{"type": "avg_pool2d", "pool_size": 3, "strides": 1,
                                               "padding": "same"}]),
        "avg_pool1d-same": (sequence, [{"type": "avg_pool1d", "pool_size": 2, "padding": "same"}]),
        "max_pool1d-same-strides": (sequence, [{"type": "max_pool1d", "pool_size": 3, "strides": 2,
                                                "padding": "same"}]),
        "cnn": (image, [{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
                        {"type": "max_pool2d"},
                        {"type": "conv2d", "filters": 3, "kernel_size": 2, "activation": "elu"},
                        {"type": "flatten"}, {"type": "dense", "neurons": 5, "activation": "relu"},
                        {"type": "dense", "neurons": 3}, {"type": "softmax"}]),
        "conv-global-max": (image, [{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
                                    {"type": "global_max_pool"}, {"type": "dense", "neurons": 2}]),
        "conv-softmax-per-pixel": (image, [{"type": "conv2d", "filters": 3, "kernel_size": 1}, {"type": "softmax"}]),
        "reshape-to-image": ({"features": 12}, [{"type": "reshape", "shape": [2, -1, 3]},
                                               {"type": "conv2d", "filters": 2, "kernel_size": 2},
                                               {"type": "reshape", "shape": [-1]}]),
        "leaky_relu-alpha-not-float32": (image, [{"type": "conv2d", "filters": 2, "kernel_size": 2},
                                                 {"type": "leaky_relu", "alpha": 0.1}, {"type": "elu", "alpha": 0.3}]),
        "leaky_relu-alpha-float32": ({"features": 4}, [{"type": "leaky_relu", "alpha": 0.5},
                                                       {"type": "elu", "alpha": 2.0}]),
        "dense-no-bias": ({"features": 4}, [{"type": "dense", "neurons": 3, "bias": False, "activation": "sigmoid"}]),
    }
    cases = [Case(name, name, {"input": shape, "layers": layers, "seed": 1}) for name, (shape, layers) in specs.items()]
    cases += [
        Case("graph-two-inputs", "graph", {
            "input": {"image": {"shape": [6, 6, 1]}, "meta": {"features": 3}}, "seed": 2,
            "layers": [{"type": "conv2d", "filters": 2, "kernel_size": 3, "inputs": "image", "activation": "relu"},
                       {"type": "flatten", "name": "features"},
                       {"type": "concatenate", "inputs": ["features", "meta"]},
                       {"type": "dense", "neurons": 3}, {"type": "softmax"}]}),
        Case("graph-fan-out-of-a-convolution", "graph", {
            "input": {"shape": [6, 5, 2]}, "seed": 3,
            "layers": [{"type": "conv2d", "filters": 3, "kernel_size": 2, "padding": "same", "name": "c"},
                       {"type": "relu", "name": "r", "inputs": "c"}, {"type": "sigmoid", "name": "s", "inputs": "c"},
                       {"type": "multiply", "inputs": ["r", "s", "c"], "name": "m"},
                       {"type": "average", "inputs": ["m", "c"]}, {"type": "max_pool2d"},
                       {"type": "concatenate", "inputs": ["max_pool2d_1", "max_pool2d_1"], "axis": 1}]}),
        Case("graph-output-not-last", "graph", {
            "input": {"features": 4}, "seed": 4, "output": "hidden",
            "layers": [{"type": "dense", "neurons": 3, "name": "hidden", "activation": "tanh"},
                       {"type": "dense", "neurons": 2}]}),
    ]
    return cases


def inputs(pipeline, samples, seed=0):
    """Random inputs for ``pipeline``: an array, or a dict of them for several inputs."""
    rng = np.random.default_rng(seed)
    arrays = {name: rng.normal(size=(samples, *shape)).astype(pipeline.dtype)
              for name, shape in pipeline.input_shapes.items()}
    return arrays["input"] if list(arrays) == ["input"] else arrays


TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


def assert_close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
