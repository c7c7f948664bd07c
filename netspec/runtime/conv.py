"""Convolution, pooling and reshaping layers, in plain NumPy, channels last.

Layout: inputs are (n, *spatial, channels), ``(n, L, C)`` in 1-D and
``(n, H, W, C)`` in 2-D; kernels are (*kernel, in_channels, filters). Window
sizes and "valid"/"same" padding follow :mod:`netspec.geometry` (the extra
element of odd "same" padding goes at the end: bottom, right). Every layer
follows the runtime protocol of :mod:`netspec.runtime.layers` and computes in
the dtype NumPy gives its inputs and weights: float32 stays float32.

Convolution is im2col: a strided view of the (zero-padded) inputs, of shape
(n, *out, *kernel, C), is copied into one contiguous matrix ``cols``
(n·prod(out), prod(kernel)·C), kept and reused while the shapes stay the same,
and the layer is one matrix product ``cols @ W`` with ``W`` the kernel
reshaped to (prod(kernel)·C, filters). Backward: ``dW = colsᵀ @ dvalues``, one
more product; ``dinputs`` by col2im, a loop over the kernel taps
(prod(kernel) of them, never over samples or pixels) that adds each tap's
``dvalues @ W[tap]ᵀ`` into the strided slice of ``dinputs`` the tap read, so
overlapping windows, strides, dilation and padding accumulate correctly.
With stride 1 and 24 input channels or more, ``dinputs`` is instead the
stride-1 convolution of the zero-padded ``dvalues`` with the flipped kernel
(one im2col and one product, faster there; the same sums).
Pooling uses the same loop over window taps on strided slices.

Ties: max pooling routes each window's gradient to the first maximum of the
window in row-major window order (the tap loop's order), and only there;
global max pooling to the first maximum in row-major spatial order.
Overlapping windows add their gradients where they share an input.
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import geometry
from .layers import Parameterless, _reusable
from .penalties import Penalty, Regularized

# One window tap: its index in the kernel, the slices of the inputs it reads
# and the slices of the output windows that read them (batch and channel axes
# whole).
Tap = tuple[tuple[int, ...], tuple[slice, ...], tuple[slice, ...]]


class _Plan:
    """The window geometry of one layer over one spatial input shape.

    Per axis: ``out`` windows, ``pads`` (before, after), and ``taps``, the
    kernel taps that read at least one real (non-padding) input. A tap
    ``t`` of the window ``o`` reads input ``o·stride + t·dilation − before``.
    """

    def __init__(self, spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int], padding: str,
                 dilation: Sequence[int]):
        axes = list(zip(spatial, kernel, strides, dilation))
        self.spatial = tuple(spatial)
        self.out = tuple(geometry.output_size(n, k, s, padding, d) for n, k, s, d in axes)
        self.pads = tuple(geometry.padding_amounts(n, k, s, padding, d) for n, k, s, d in axes)
        self.padded = any(before or after for before, after in self.pads)
        # The zero-padded inputs and dvalues of the last call, reused while n and dtype hold.
        self.buffer: np.ndarray | None = None
        self.dbuffer: np.ndarray | None = None
        per_axis = [[_axis_tap(n, o, t * d - before, s) for t in range(k)]
                    for (n, k, s, d), o, (before, _) in zip(axes, self.out, self.pads)]
        self.taps: list[Tap] = []
        for tap in itertools.product(*(range(k) for k in kernel)):
            parts = [per_axis[axis][t] for axis, t in enumerate(tap)]
            if all(part is not None for part in parts):
                self.taps.append((tap, (slice(None), *(p[0] for p in parts), slice(None)),
                                  (slice(None), *(p[1] for p in parts), slice(None))))


def _axis_tap(size: int, out: int, shift: int, stride: int) -> tuple[slice, slice] | None:
    """The (input, output) slices where ``input = o·stride + shift`` lies in
    [0, size) for windows ``o`` in [0, out); None when there are none."""
    low = max(0, -(shift // stride))  # ceil(-shift / stride)
    high = min(out - 1, (size - 1 - shift) // stride)
    if high < low:
        return None
    return slice(low * stride + shift, high * stride + shift + 1, stride), slice(low, high + 1)


def _plan(layer: object, inputs: np.ndarray, rank: int, kernel: Sequence[int], strides: Sequence[int], padding: str,
          dilation: Sequence[int]) -> _Plan:
    """The layer's cached :class:`_Plan` for these inputs, checked to be
    (n, *spatial, channels) with at least one window per axis."""
    who = f"{type(layer).__name__} {getattr(layer, 'name', '')!r}"
    if inputs.ndim != rank + 2:
        raise ValueError(f"{who}: expected inputs of rank {rank + 2} (n, {'*spatial' if rank > 1 else 'length'}, "
                         f"channels); received shape {inputs.shape}")
    spatial = inputs.shape[1:-1]
    cached = getattr(layer, "_cached_plan", None)
    if cached is not None and cached.spatial == spatial:
        return cached
    plan = _Plan(spatial, kernel, strides, padding, dilation)
    if 0 in plan.out:
        window = tuple(geometry.dilated(k, d) for k, d in zip(kernel, dilation))
        raise ValueError(f"{who}: expected inputs at least as large as the window {window} with padding "
                         f"{padding!r}; received spatial shape {spatial}")
    layer._cached_plan = plan  # type: ignore[attr-defined]
    return plan


def _pad(inputs: np.ndarray, pads: Sequence[tuple[int, int]], buffer: np.ndarray | None) -> np.ndarray:
    """``inputs`` (n, *spatial, C) with ``pads[axis] = (before, after)`` zeros
    added to each spatial axis; written into ``buffer`` when it has the shape
    and dtype (its zeros are then already in place: the caller keeps one
    buffer per ``pads``), else into a new array. ``inputs`` itself when there
    is no padding."""
    if not any(before or after for before, after in pads):
        return inputs
    shape = (inputs.shape[0], *(n + a + b for n, (a, b) in zip(inputs.shape[1:-1], pads)), inputs.shape[-1])
    padded = buffer
    if padded is None or padded.shape != shape or padded.dtype != inputs.dtype:
        padded = np.zeros(shape, dtype=inputs.dtype)
    padded[(slice(None), *(slice(a, a + n) for n, (a, _) in zip(inputs.shape[1:-1], pads)), slice(None))] = inputs
    return padded


def _windows(padded: np.ndarray, out: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
             dilation: Sequence[int]) -> np.ndarray:
    """Read-only view (n, *out, *kernel, C) of every window of ``padded``:
    ``view[b, *o, *t, c] = padded[b, *(o·stride + t·dilation), c]``."""
    space = padded.strides[1:-1]
    shape = (padded.shape[0], *out, *kernel, padded.shape[-1])
    strides_ = (padded.strides[0], *(st * s for st, s in zip(space, strides)),
                *(st * d for st, d in zip(space, dilation)), padded.strides[-1])
    return as_strided(padded, shape, strides_, writeable=False)


def _im2col(padded: np.ndarray, out: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
            dilation: Sequence[int], buffer: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray]:
    """The windows of ``padded`` as one matrix ``cols`` (n·prod(out), prod(kernel)·C),
    ``cols[(b, *o), (*t, c)] = padded[b, *(o·stride + t·dilation), c]``, and the
    contiguous array holding it (``buffer`` when it fits, to be reused next call).

    The copy runs in the order whose contiguous runs are longest: row-major
    (n, *out, *kernel, C), runs of kw·C elements, unless those runs are
    short (one or two channels), then (*kernel, C, n, *out), runs of whole
    output rows, and ``cols`` is the transpose of that buffer. A 1×1 kernel
    with stride 1 needs no copy: ``cols`` is the inputs reshaped.
    """
    channels, rank = padded.shape[-1], len(out)
    if all(k == 1 for k in kernel) and all(s == 1 for s in strides):
        return None, padded.reshape(-1, channels)
    windows = _windows(padded, out, kernel, strides, dilation)
    rows, columns = padded.shape[0] * math.prod(out), math.prod(kernel) * channels
    if channels * (kernel[-1] if dilation[-1] == 1 else 1) >= 8:
        cols = _reusable(buffer, windows.shape, padded.dtype)
        np.copyto(cols, windows)
        return cols, cols.reshape(rows, columns)
    view = windows.transpose(*range(rank + 1, 2 * rank + 2), *range(rank + 1))
    cols = _reusable(buffer, view.shape, padded.dtype)
    np.copyto(cols, view)
    return cols, cols.reshape(columns, rows).T


def _lowest(dtype: np.dtype) -> float:
    """The fill that never wins a max: −inf for floats, the minimum for integers."""
    return -np.inf if dtype.kind in "fc" else np.iinfo(dtype).min


def _options(what: str, rank: int, strides: object, padding: object, dilation: object) -> tuple:
    try:
        return (geometry.as_tuple(strides, rank, "strides"), geometry.check_padding(padding),
                geometry.as_tuple(dilation, rank, "dilation"))
    except ValueError as exc:
        raise ValueError(f"{what} {exc}") from None


class _Conv(Regularized):
    """Shared by :class:`Conv1D` and :class:`Conv2D` (``rank`` spatial axes);
    ``regularizer`` and ``bias_regularizer`` as for :class:`~netspec.runtime.layers.Dense`."""

    rank: int

    def __init__(self, weights: np.ndarray, bias: np.ndarray | None, strides: object, padding: object,
                 dilation: object, name: str, regularizer: Penalty | None = None,
                 bias_regularizer: Penalty | None = None):
        kind, rank = type(self).__name__, self.rank
        layout = "(kernel, in_channels, filters)" if rank == 1 else "(kernel_height, kernel_width, in_channels, filters)"
        if weights.ndim != rank + 2:
            raise ValueError(f"{kind} weights: expected rank {rank + 2} {layout}; received shape {weights.shape}")
        if bias is not None and bias.shape != (weights.shape[-1],):
            raise ValueError(f"{kind} bias: expected shape ({weights.shape[-1]},) to match weights {weights.shape}; "
                             f"received shape {bias.shape}")
        self.strides, self.padding, self.dilation = _options(kind, rank, strides, padding, dilation)
        self.weights = weights
        self.bias = bias
        self.name = name
        self._set_penalties(regularizer, bias_regularizer)

    @property
    def kernel_size(self) -> tuple[int, ...]:
        return tuple(self.weights.shape[:-2])

    @property
    def in_channels(self) -> int:
        return self.weights.shape[-2]

    @property
    def filters(self) -> int:
        return self.weights.shape[-1]

    @property
    def dtype(self) -> np.dtype:
        return self.weights.dtype

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        plan = _plan(self, inputs, self.rank, self.kernel_size, self.strides, self.padding, self.dilation)
        if inputs.shape[-1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected {self.in_channels} input channels "
                             f"(the last axis); received shape {inputs.shape}")
        self.inputs = inputs
        padded = _pad(inputs, plan.pads, plan.buffer)
        plan.buffer = padded if padded is not inputs else None
        self._buffer, self._cols = _im2col(padded, plan.out, self.kernel_size, self.strides, self.dilation,
                                           getattr(self, "_buffer", None))
        output = self._cols @ self.weights.reshape(-1, self.filters)
        if self.bias is not None and self.filters >= 16:
            output += self.bias
        elif self.bias is not None:  # few filters: add whole samples at a time, the bias repeated, not short runs
            samples = output.reshape(inputs.shape[0], -1)
            samples += np.tile(self.bias, math.prod(plan.out))
        self.output = output.reshape(inputs.shape[0], *plan.out, self.filters)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        dvalues = np.ascontiguousarray(dvalues)
        self.backward_parameters(dvalues)
        if all(s == 1 for s in self.strides) and self.in_channels >= 24:
            self.dinputs = self._transposed(dvalues)
        else:
            self.dinputs = self._col2im(dvalues)
        return self.dinputs

    def _transposed(self, dvalues: np.ndarray) -> np.ndarray:
        """``dinputs`` for stride 1, as a convolution of the padded ``dvalues``
        with the kernel flipped along every spatial axis, its channel axes
        swapped: ``dinputs[b, *h, c] = Σ_{t, f} dpad[b, *(h + t·dilation), f] ·
        weights[*(k − 1 − t), c, f]``, where ``dpad`` pads each axis with
        ``dilated − 1 − before`` zeros at the start and ``dilated − 1 − after``
        at the end. One more im2col and one matrix product, no scatter."""
        plan = self._cached_plan
        pads = [(span - 1 - before, span - 1 - after)
                for span, (before, after) in zip(map(geometry.dilated, self.kernel_size, self.dilation), plan.pads)]
        padded = _pad(dvalues, pads, plan.dbuffer)
        plan.dbuffer = padded if padded is not dvalues else None
        self._dbuffer, dcols = _im2col(padded, plan.spatial, self.kernel_size, (1,) * self.rank, self.dilation,
                                       getattr(self, "_dbuffer", None))
        flipped = self.weights[(slice(None, None, -1),) * self.rank].swapaxes(-1, -2)
        dinputs = dcols @ np.ascontiguousarray(flipped).reshape(-1, self.in_channels)
        return dinputs.reshape(self.inputs.shape)

    def _col2im(self, dvalues: np.ndarray) -> np.ndarray:
        """``dinputs`` tap by tap: for each kernel tap ``t``,
        ``dvalues @ weights[t]ᵀ`` (n·prod(out), C), the gradient of the inputs
        that tap read, added into the strided slice of ``dinputs`` it read."""
        dvalues2d = dvalues.reshape(-1, self.filters)
        dtype = np.result_type(dvalues2d, self.weights)
        shape = (dvalues2d.shape[0], self.in_channels)
        part = self._part = _reusable(getattr(self, "_part", None), shape, dtype)
        parts = part.reshape(*dvalues.shape[:-1], self.in_channels)
        dinputs = np.zeros(self.inputs.shape, dtype=dtype)
        for tap, into, windows in self._cached_plan.taps:
            np.matmul(dvalues2d, self.weights[tap].T, out=part)
            dinputs[into] += parts[windows]
        return dinputs

    def backward_parameters(self, dvalues: np.ndarray) -> None:
        """The parameter gradients alone: what the first layer of a network
        needs, where nothing uses the gradient w.r.t. the data.

        ``dweights = colsᵀ @ dvalues`` reshaped to the kernel's shape,
        ``dbiases = sum(dvalues)`` over every axis but the last (filters,),
        computed as ``ones @ dvalues`` (an axis-0 sum of a narrow matrix is
        several times slower).
        """
        dvalues2d = np.ascontiguousarray(dvalues).reshape(-1, self.filters)
        dweights = _reusable(getattr(self, "dweights", None), self.weights.shape, np.result_type(self._cols, dvalues2d))
        np.matmul(self._cols.T, dvalues2d, out=dweights.reshape(-1, self.filters))
        self.dweights = dweights
        if self.bias is not None:
            dbiases = _reusable(getattr(self, "dbiases", None), (self.filters,), dvalues.dtype)
            ones = self._ones = _reusable(getattr(self, "_ones", None), dvalues2d.shape[:1], dvalues.dtype)
            ones.fill(1)
            self.dbiases = np.matmul(ones, dvalues2d, out=dbiases)  # a matrix-vector product: sum(axis=0) is slow here
        if self.regularizer is not None or self.bias_regularizer is not None:
            self._penalize()

    def parameters(self) -> list[np.ndarray]:
        return [self.weights] if self.bias is None else [self.weights, self.bias]

    def gradients(self) -> list[np.ndarray]:
        return [self.dweights] if self.bias is None else [self.dweights, self.dbiases]

    def __repr__(self) -> str:
        options = [f"kernel={self.kernel_size}"]
        if self.strides != (1,) * self.rank:
            options.append(f"strides={self.strides}")
        if self.padding != "valid":
            options.append(f"padding={self.padding!r}")
        if self.dilation != (1,) * self.rank:
            options.append(f"dilation={self.dilation}")
        if self.bias is None:
            options.append("bias=False")
        return (f"{type(self).__name__}({self.in_channels} → {self.filters}, {', '.join(options)}"
                f"{self._penalties_repr()}, name={self.name!r})")


class Conv2D(_Conv):
    """2-D convolution (a cross-correlation: the kernel is not flipped),
    channels last.

    Shapes: ``weights`` (kh, kw, in_channels, filters), ``bias`` (filters,)
    or None; inputs (n, H, W, in_channels) -> output (n, OH, OW, filters) with
    OH, OW from :func:`netspec.geometry.output_size`.

    ``output[b, i, j, f] = bias[f] + Σ_{p, q, c} padded[b, i·sh + p·dh, j·sw + q·dw, c] · weights[p, q, c, f]``.

    Backward, for ``dvalues`` (n, OH, OW, filters): ``dweights`` (kh, kw,
    in_channels, filters), ``dbiases`` (filters,) and ``dinputs`` (n, H, W,
    in_channels), the sum over every window that reads an input. Like
    :class:`~netspec.runtime.layers.Dense`, the parameter gradients are
    written into the same arrays on every backward pass.
    """

    rank = 2

    def __init__(self, weights: np.ndarray, bias: np.ndarray | None = None, *, strides: object = (1, 1),
                 padding: str = "valid", dilation: object = (1, 1), name: str = "conv2d",
                 regularizer: Penalty | None = None, bias_regularizer: Penalty | None = None):
        super().__init__(weights, bias, strides, padding, dilation, name, regularizer, bias_regularizer)


class Conv1D(_Conv):
    """1-D convolution, channels last: :class:`Conv2D` along one axis.

    Shapes: ``weights`` (k, in_channels, filters), ``bias`` (filters,) or
    None; inputs (n, L, in_channels) -> output (n, OL, filters).

    ``output[b, i, f] = bias[f] + Σ_{p, c} padded[b, i·s + p·d, c] · weights[p, c, f]``;
    ``dweights`` (k, in_channels, filters), ``dbiases`` (filters,),
    ``dinputs`` (n, L, in_channels).
    """

    rank = 1

    def __init__(self, weights: np.ndarray, bias: np.ndarray | None = None, *, strides: object = (1,),
                 padding: str = "valid", dilation: object = (1,), name: str = "conv1d",
                 regularizer: Penalty | None = None, bias_regularizer: Penalty | None = None):
        super().__init__(weights, bias, strides, padding, dilation, name, regularizer, bias_regularizer)


class _Pool(Parameterless):
    """Shared by the pooling layers over windows of ``pool_size``; ``strides``
    default to ``pool_size``."""

    rank: int

    def __init__(self, pool_size: object, strides: object, padding: object, name: str):
        kind = type(self).__name__
        try:
            self.pool_size = geometry.as_tuple(pool_size, self.rank, "pool_size")
        except ValueError as exc:
            raise ValueError(f"{kind} {exc}") from None
        self.strides, self.padding, _ = _options(kind, self.rank, self.pool_size if strides is None else strides,
                                                 padding, 1)
        self.name = name

    def _plan(self, inputs: np.ndarray) -> _Plan:
        return _plan(self, inputs, self.rank, self.pool_size, self.strides, self.padding, (1,) * self.rank)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(pool_size={self.pool_size}, strides={self.strides}, "
                f"padding={self.padding!r}, name={self.name!r})")


class _MaxPool(_Pool):
    """Max over each window; "same" padding pads with −inf.

    ``output[b, *o, c] = max_t padded[b, *(o·stride + t), c]``. Backward routes
    each window's gradient to its first maximum in row-major window order
    (only there, even on ties); overlapping windows add where they share the
    maximum. A NaN input gives NaN outputs and no gradient.
    """

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        plan = self._plan(inputs)
        self.inputs = inputs
        output = np.full((inputs.shape[0], *plan.out, inputs.shape[-1]), _lowest(inputs.dtype), dtype=inputs.dtype)
        for _, into, windows in plan.taps:
            np.maximum(output[windows], inputs[into], out=output[windows])
        self.output = output
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        inputs, output, taps = self.inputs, self.output, self._cached_plan.taps
        dinputs = np.zeros(inputs.shape, dtype=dvalues.dtype)
        overlapping = any(s < k for s, k in zip(self.strides, self.pool_size))
        unrouted = np.ones(output.shape, dtype=bool)  # windows whose maximum is not found yet
        for index, (_, into, windows) in enumerate(taps):
            hit = np.equal(inputs[into], output[windows])
            hit &= unrouted[windows]
            if index < len(taps) - 1:
                unrouted[windows] ^= hit
            if overlapping:
                dinputs[into] += dvalues[windows] * hit
            else:
                np.multiply(dvalues[windows], hit, out=dinputs[into])
        self.dinputs = dinputs
        return self.dinputs


class _AvgPool(_Pool):
    """Mean over each window's real elements: "same" padding adds nothing to
    the sum and nothing to the count (padding is never averaged in).

    ``output[b, *o, c] = Σ_t inputs[b, *(o·stride + t − before), c] / count[o]``
    over the taps inside the inputs; backward adds ``dvalues / count`` to
    every input of each window.
    """

    def _scale(self, plan: _Plan, dtype: np.dtype) -> np.ndarray | float:
        """``1 / count``: a number when every window is whole, else an array
        (1, *out, 1), the product of each axis's counts."""
        if not plan.padded:
            return 1 / math.prod(self.pool_size)
        dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
        count = np.ones((1,) * (self.rank + 2), dtype=dtype)
        for axis, (n, o, k, s, (before, _)) in enumerate(zip(plan.spatial, plan.out, self.pool_size, self.strides,
                                                             plan.pads)):
            starts = np.arange(o) * s - before
            per_axis = np.minimum(starts + k, n) - np.maximum(starts, 0)
            count = count * per_axis.astype(dtype).reshape((1,) * (axis + 1) + (o,) + (1,) * (self.rank - axis))
        return 1 / count

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        plan = self._plan(inputs)
        self.inputs = inputs
        dtype = inputs.dtype if inputs.dtype.kind == "f" else np.dtype(np.float64)
        total = np.zeros((inputs.shape[0], *plan.out, inputs.shape[-1]), dtype=dtype)
        for _, into, windows in plan.taps:
            total[windows] += inputs[into]
        total *= self._scale(plan, dtype)
        self.output = total
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        plan = self._cached_plan
        share = dvalues * self._scale(plan, dvalues.dtype)
        dinputs = np.zeros(self.inputs.shape, dtype=share.dtype)
        overlapping = any(s < k for s, k in zip(self.strides, self.pool_size))
        for _, into, windows in plan.taps:
            if overlapping:
                dinputs[into] += share[windows]
            else:
                dinputs[into] = share[windows]
        self.dinputs = dinputs
        return self.dinputs


class MaxPool2D(_MaxPool):
    """2-D max pooling: inputs (n, H, W, C) -> output (n, OH, OW, C); see :class:`_MaxPool`."""

    rank = 2

    def __init__(self, pool_size: object = (2, 2), strides: object = None, padding: str = "valid",
                 name: str = "max_pool2d"):
        super().__init__(pool_size, strides, padding, name)


class AvgPool2D(_AvgPool):
    """2-D average pooling: inputs (n, H, W, C) -> output (n, OH, OW, C); see :class:`_AvgPool`."""

    rank = 2

    def __init__(self, pool_size: object = (2, 2), strides: object = None, padding: str = "valid",
                 name: str = "avg_pool2d"):
        super().__init__(pool_size, strides, padding, name)


class MaxPool1D(_MaxPool):
    """1-D max pooling: inputs (n, L, C) -> output (n, OL, C); see :class:`_MaxPool`."""

    rank = 1

    def __init__(self, pool_size: object = (2,), strides: object = None, padding: str = "valid",
                 name: str = "max_pool1d"):
        super().__init__(pool_size, strides, padding, name)


class AvgPool1D(_AvgPool):
    """1-D average pooling: inputs (n, L, C) -> output (n, OL, C); see :class:`_AvgPool`."""

    rank = 1

    def __init__(self, pool_size: object = (2,), strides: object = None, padding: str = "valid",
                 name: str = "avg_pool1d"):
        super().__init__(pool_size, strides, padding, name)


def _spatial(layer: Parameterless, inputs: np.ndarray) -> int:
    if inputs.ndim < 3:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: expected inputs (n, *spatial, channels) "
                         f"of rank 3 or more; received shape {inputs.shape}")
    return math.prod(inputs.shape[1:-1])


class GlobalAvgPool(Parameterless):
    """Mean over every spatial axis: inputs (n, *spatial, C) -> output (n, C),
    ``output[b, c] = Σ inputs[b, ..., c] / S`` with ``S = prod(spatial)``;
    ``dinputs[b, ..., c] = dvalues[b, c] / S``."""

    def __init__(self, name: str = "global_avg_pool"):
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        _spatial(self, inputs)
        self.inputs = inputs
        self.output = inputs.mean(axis=tuple(range(1, inputs.ndim - 1)))
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        share = dvalues / math.prod(self.inputs.shape[1:-1])
        dinputs = np.empty(self.inputs.shape, dtype=share.dtype)
        dinputs[...] = share.reshape(share.shape[0], *(1,) * (self.inputs.ndim - 2), share.shape[1])
        self.dinputs = dinputs
        return self.dinputs


class GlobalMaxPool(Parameterless):
    """Max over every spatial axis: inputs (n, *spatial, C) -> output (n, C).
    Backward routes ``dvalues[b, c]`` to the first maximum of ``inputs[b, ..., c]``
    in row-major spatial order (only there, even on ties)."""

    def __init__(self, name: str = "global_max_pool"):
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        size = _spatial(self, inputs)
        self.inputs = inputs
        flat = inputs.reshape(inputs.shape[0], size, inputs.shape[-1])
        self._argmax = np.argmax(flat, axis=1)[:, None, :]
        self.output = np.take_along_axis(flat, self._argmax, axis=1)[:, 0, :]
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        shape = self.inputs.shape
        dinputs = np.zeros((shape[0], math.prod(shape[1:-1]), shape[-1]), dtype=dvalues.dtype)
        np.put_along_axis(dinputs, self._argmax, dvalues[:, None, :], axis=1)
        self.dinputs = dinputs.reshape(shape)
        return self.dinputs


class Flatten(Parameterless):
    """inputs (n, *shape) -> output (n, prod(shape)) in C order: channels-last
    inputs (n, H, W, C) flatten as ``h·W·C + w·C + c``; ``dinputs`` is
    ``dvalues`` reshaped back."""

    def __init__(self, name: str = "flatten"):
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        if inputs.ndim < 1:
            raise ValueError(f"Flatten {self.name!r}: expected inputs (n, ...); received a scalar")
        self.inputs = inputs
        self.output = inputs.reshape(inputs.shape[0], -1)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dinputs = dvalues.reshape(self.inputs.shape)
        return self.dinputs


class Reshape(Parameterless):
    """inputs (n, *any) -> output (n, *shape) in C order; ``shape`` excludes
    the batch axis and may hold one -1, inferred from the size. ``dinputs`` is
    ``dvalues`` reshaped back."""

    def __init__(self, shape: Sequence[int], name: str = "reshape"):
        target = tuple(shape)
        if (any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or (d < 1 and d != -1) for d in target)
                or target.count(-1) > 1):
            raise ValueError(f"Reshape shape: expected positive integers and at most one -1; received {shape!r}")
        self.shape = tuple(int(d) for d in target)
        self.name = name

    def forward(self, inputs: np.ndarray, training: bool = False) -> np.ndarray:
        size = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.shape if d != -1)
        if (size % known if -1 in self.shape else size != known):
            raise ValueError(f"Reshape {self.name!r}: expected inputs of {known}{' × k' if -1 in self.shape else ''} "
                             f"values per sample for shape {self.shape}; received shape {inputs.shape}")
        self.inputs = inputs
        self.output = inputs.reshape(inputs.shape[0], *self.shape)
        return self.output

    def backward(self, dvalues: np.ndarray) -> np.ndarray:
        self.dinputs = dvalues.reshape(self.inputs.shape)
        return self.dinputs

    def __repr__(self) -> str:
        return f"Reshape({self.shape}, name={self.name!r})"

