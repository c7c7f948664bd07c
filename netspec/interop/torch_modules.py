"""The few ``torch.nn`` modules PyTorch lacks for netspec's layers.

Imported by :mod:`netspec.interop.torch` only when a pipeline is exported,
since it imports torch. Each is a plain module of torch operations, so
``torch.export`` traces it into ATen operations and a saved program needs
neither netspec nor this file to run.
"""

from __future__ import annotations

import torch
from torch import nn


class Permute(nn.Module):
    """``inputs.permute(*dims)``: between netspec's channels-last layout and PyTorch's channels-first one."""

    def __init__(self, *dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.permute(*self.dims)

    def extra_repr(self) -> str:
        return ", ".join(map(str, self.dims))


class Reshape(nn.Module):
    """(n, *any) → (n, *shape), in C order."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return str(self.shape)


class AvgPoolSame(nn.Module):
    """Average pooling with padding that is not the same on both sides of an
    axis (Keras's "same" with the odd extra at the end), averaging only the
    real values: zeros added, the windows averaged, then each window rescaled
    by kernel size / real values covered (``scale``, (1, 1, *out)).
    Channels-first: (n, channels, *spatial)."""

    def __init__(self, kernel: tuple[int, ...], strides: tuple[int, ...], pads: list[int], scale: torch.Tensor):
        super().__init__()
        self.kernel, self.strides, self.pads = tuple(kernel), tuple(strides), list(pads)
        self.register_buffer("scale", scale)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        padded = nn.functional.pad(inputs, self.pads)
        pool = nn.functional.avg_pool2d if len(self.kernel) == 2 else nn.functional.avg_pool1d
        return pool(padded, self.kernel, self.strides) * self.scale

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel}, stride={self.strides}, pads={self.pads}"


class GlobalAvgPool(nn.Module):
    """The mean over ``dims`` (the spatial axes): (n, ..., channels) → (n, channels)."""

    def __init__(self, dims: tuple[int, ...]):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.mean(dim=self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class GlobalMaxPool(nn.Module):
    """The maximum over the spatial axes, (n, *spatial, channels) or, with
    ``channels_first``, (n, channels, *spatial) → (n, channels). The gradient
    goes to the first maximum in row-major spatial order, as netspec's does
    (``amax`` would share it between ties)."""

    def __init__(self, channels_first: bool = False):
        super().__init__()
        self.channels_first = channels_first

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.channels_first:
            return inputs.flatten(2).max(dim=2).values
        return inputs.flatten(1, -2).max(dim=1).values

    def extra_repr(self) -> str:
        return "channels_first" if self.channels_first else ""


class Add(nn.Module):
    """``a + b + ...``, element by element."""

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        output = inputs[0] + inputs[1]
        for more in inputs[2:]:
            output = output + more
        return output


class Multiply(nn.Module):
    """``a · b · ...``, element by element."""

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        output = inputs[0] * inputs[1]
        for more in inputs[2:]:
            output = output * more
        return output


class Average(nn.Module):
    """``(a + b + ...) / k`` for k inputs, element by element."""

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return Add.forward(self, inputs) / len(inputs)


class Concatenate(nn.Module):
    """The inputs joined along ``dim`` (which counts the batch axis)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(inputs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Graph(nn.Module):
    """A network that is a graph: ``steps[i]`` reads the values
    ``sources[i]`` (the inputs are values 0 .. m-1, step i's output value
    m + i; a merge step receives a list); the output is step ``output``'s.
    ``forward`` takes one tensor per network input, in the spec's order.
    ``names`` are the steps' names, ``inputs`` the inputs'."""

    def __init__(self, steps: list[nn.Module], names: list[str], inputs: list[str],
                 sources: list[tuple[int, ...]], merges: list[bool], output: int):
        super().__init__()
        self.steps = nn.ModuleList(steps)
        self.names, self.inputs = list(names), list(inputs)
        self.sources, self.merges, self.output = [tuple(s) for s in sources], list(merges), output

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        values = list(inputs)
        for step, sources, merge in zip(self.steps, self.sources, self.merges):
            values.append(step([values[s] for s in sources]) if merge else step(values[sources[0]]))
        return values[len(self.inputs) + self.output]

    def extra_repr(self) -> str:
        return f"inputs={self.inputs}"
