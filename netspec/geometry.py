"""Window arithmetic shared by shape inference and the runtime, in pure Python.

A window of ``kernel`` taps spaced ``dilation`` apart slides along an axis of
``size`` elements in steps of ``stride``. It spans

    dilated = dilation * (kernel - 1) + 1

elements. Padding has the two usual modes:

- ``"valid"``: no padding; a window is kept only when it fits, so
  ``out = floor((size - dilated) / stride) + 1`` (0 when not even one fits),
  and the last ``size - ((out - 1) * stride + dilated)`` elements, which no
  window reads, are dropped;
- ``"same"``: ``out = ceil(size / stride)``, padding the axis with
  ``total = max((out - 1) * stride + dilated - size, 0)`` elements,
  ``total // 2`` before and the rest after: an odd extra element goes at the
  end (bottom, right). A symmetric padding of ``p`` on both sides equals it
  only when ``total`` is even, ``p = total / 2``.

Every function works on one axis and takes plain ints; :func:`output_shape`
applies :func:`output_size` to several axes.
"""

from __future__ import annotations

import operator
from typing import Iterable, Sequence, Union

PADDINGS = ("valid", "same")

IntOrTuple = Union[int, Sequence[int]]


def _integer(value: object, what: str, least: int) -> int:
    """``value`` as an int of at least ``least`` (1: positive, 0: non-negative), else ValueError."""
    kind = "a positive integer" if least == 1 else "a non-negative integer"
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected {kind}; received {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{what}: expected {kind}; received {value!r}") from None
    if number < least:
        raise ValueError(f"{what}: expected {kind}; received {number}")
    return number


def _positive(value: object, what: str) -> int:
    return _integer(value, what, 1)


def _size(value: object) -> int:
    return _integer(value, "size", 0)


def check_padding(padding: object) -> str:
    """``padding`` itself when it is ``"valid"`` or ``"same"``, else ValueError."""
    if padding not in PADDINGS:
        raise ValueError(f"padding: expected one of {', '.join(map(repr, PADDINGS))}; received {padding!r}")
    return padding  # type: ignore[return-value]


def as_tuple(value: IntOrTuple, rank: int, name: str = "value") -> tuple[int, ...]:
    """A positive int or a sequence of ``rank`` positive ints, as a tuple of
    ``rank`` ints: ``as_tuple(3, 2) == (3, 3)``, ``as_tuple((2, 1), 2) == (2, 1)``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return (_positive(value, name),) * rank
    items = tuple(value)
    if len(items) != rank:
        raise ValueError(f"{name}: expected an integer or a sequence of {rank} integer{'s' if rank != 1 else ''}; "
                         f"received {value!r}")
    return tuple(_positive(item, name) for item in items)


def dilated(kernel: int, dilation: int = 1) -> int:
    """Elements a window spans: ``dilation * (kernel - 1) + 1``."""
    return _positive(dilation, "dilation") * (_positive(kernel, "kernel") - 1) + 1


def output_size(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Windows along one axis.

    ``"valid"``: ``max(floor((size - dilated) / stride) + 1, 0)``, 0 meaning
    the input is smaller than one window; ``"same"``: ``ceil(size / stride)``.
    """
    size, span, stride = _size(size), dilated(kernel, dilation), _positive(stride, "stride")
    if check_padding(padding) == "same":
        return -(-size // stride)
    return max((size - span) // stride + 1, 0)


def padding_amounts(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> tuple[int, int]:
    """Elements added ``(before, after)`` the axis.

    ``"valid"``: ``(0, 0)``. ``"same"``: with ``out = ceil(size / stride)``,
    ``total = max((out - 1) * stride + dilated - size, 0)``,
    ``before = total // 2``, ``after = total - before`` (the odd one at the end).
    """
    out = output_size(size, kernel, stride, padding, dilation)
    if padding == "valid" or out == 0:
        return (0, 0)
    total = max((out - 1) * stride + dilated(kernel, dilation) - size, 0)
    return (total // 2, total - total // 2)


def dropped(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Trailing elements no window reads: with ``"valid"`` padding and
    ``out >= 1`` windows, ``size - ((out - 1) * stride + dilated)``; else 0
    (``"same"`` padding reads every element)."""
    out = output_size(size, kernel, stride, padding, dilation)
    if padding == "same" or out == 0:
        return 0
    return size - ((out - 1) * stride + dilated(kernel, dilation))


def output_shape(sizes: Sequence[int], kernel: IntOrTuple, strides: IntOrTuple, padding: str,
                 dilation: IntOrTuple = 1) -> tuple[int, ...]:
    """:func:`output_size` along each axis of ``sizes``; ``kernel``, ``strides``
    and ``dilation`` are an int for every axis or one per axis."""
    rank = len(sizes)
    axes = zip(sizes, as_tuple(kernel, rank, "kernel"), as_tuple(strides, rank, "strides"),
               as_tuple(dilation, rank, "dilation"))
    return tuple(output_size(n, k, s, padding, d) for n, k, s, d in axes)
