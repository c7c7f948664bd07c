"""Limits that keep a bad or hostile spec from hanging netspec or exhausting memory.

Every stage reads its limits from one :class:`Limits` value. The defaults suit a
laptop; pass your own to :func:`netspec.load`, :func:`netspec.validate` or
:func:`netspec.compile` (``limits=Limits(max_parameters=10**10)``), or set
them for the CLI with ``--max-parameters`` and friends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Upper bounds checked before any work or allocation.

    - ``max_file_bytes``: size of a spec file or string (default 10 MiB).
    - ``max_depth``: nesting depth of objects and lists in a spec (default 64).
    - ``max_string_length``: length of any string value or key (default 10,000).
    - ``max_layers``: number of entries in ``layers`` (default 10,000).
    - ``max_parameters``: total trainable parameters (default 500 million).
    - ``max_memory_bytes``: estimated bytes for parameters, gradients and
      optimizer state (default 8 GiB).
    - ``max_variants``: variants one ``netspec sweep`` writes (default 10,000;
      ``--max-variants``); a larger grid is refused before any is made.
    """

    max_file_bytes: int = 10 * 1024 * 1024
    max_depth: int = 64
    max_string_length: int = 10_000
    max_layers: int = 10_000
    max_parameters: int = 500_000_000
    max_memory_bytes: int = 8 * 1024**3
    max_variants: int = 10_000


DEFAULT_LIMITS = Limits()
