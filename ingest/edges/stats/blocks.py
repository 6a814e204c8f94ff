"""Cache-sized blocks for the pair-counting kernels (co-activation counts, LASSO screen).

Algorithm:
1. A kernel that scatters random increments into a block of pair cells runs fastest when
   the block fits the shared last-level cache: aim at ``CACHE_BLOCK_BYTES`` of cells.
2. Every block costs one pass over all tokens, so a block never holds fewer cells than
   total / ``MAX_PASSES`` (at most ``MAX_PASSES`` passes), even when that outgrows the cache.
3. The caller caps the result by its memory budget. The measured effect of the sizes is
   in docs/benchmarks.md, Measured design choices.
"""

from __future__ import annotations

CACHE_BLOCK_BYTES = 16 << 20
"""Half the shared L3 of the 2-core reference machines."""

MAX_PASSES = 128
"""Most passes over the tokens that blocking may cost."""


def target_block_cells(total_cells: int, cell_bytes: int) -> int:
    """Cells per block: cache-sized, but never more than ``MAX_PASSES`` blocks in all."""
    by_cache = CACHE_BLOCK_BYTES // max(cell_bytes, 1)
    by_passes = -(-max(total_cells, 0) // MAX_PASSES)
    return int(max(1, by_cache, by_passes))
