"""CUDA kernels: the same segment walk as ``cpu.py``, compiled by numba-cuda from the same shapes.

``walk.value_at`` and ``shapes.SHAPES`` are ``register_jitable`` functions, so inside a ``cuda.jit`` kernel numba
compiles them as device functions from the very source the CPU kernels inline: no formula is restated here.
Kernels evaluate at ``numerics.LIBM``: on the GPU ``math.cos`` is libdevice's accurate ``cos`` (the CPU kernels'
polynomials exist to let LLVM vectorize on the CPU, which the GPU doesn't need).

Values are computed in float64 and rounded once to the output's dtype. They equal the CPU kernels within a few
float64 ulps, not bit for bit: libdevice's cos, pow and log are within 2 ulps, and NVVM may contract a * b + c
into fused multiply-adds.

No on-disk cache: a kernel compiles on its first launch per output dtype, once per process.

The launch helpers take arrays that numba-cuda accepts (device arrays, ``numba.cuda.as_cuda_array`` views of
torch tensors, or numpy arrays under the simulator) and an optional stream; they never synchronize.
No torch here: ``fastsched.gpu`` converts tensors and picks torch's current stream.
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from .numerics import LIBM
from .walk import value_at

# 256 threads a block keeps every SM busy with a few resident blocks; the loops are grid-stride, so the
# grid is capped and each thread covers several elements of a long row.
THREADS_PER_BLOCK = 256
MAX_BLOCKS_PER_ROW = 1 << 15  # blocks along the steps axis (gridDim.x)
MAX_BLOCKS_OF_CONFIGS = (1 << 16) - 1  # blocks along the configs axis (gridDim.y, whose hardware limit this is)


@cuda.jit
def fill_table_kernel(codes, cols, counts, base_lrs, start, out):
    """out[i, j] = base_lrs[i] * row i's value at step start + j: grid-stride over (configs, steps).

    gridDim.y walks the configs, gridDim.x x blockDim.x the steps of a row: neighbouring threads write
    neighbouring elements (coalesced), and no thread divides an index to find its row.
    """
    num_configs, num_steps = out.shape
    first_step = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    step_stride = cuda.gridDim.x * cuda.blockDim.x
    for i in range(cuda.blockIdx.y, num_configs, cuda.gridDim.y):
        base_lr = base_lrs[i]
        for j in range(first_step, num_steps, step_stride):
            out[i, j] = base_lr * value_at(codes[i], cols[i], counts[i], float(start + j), LIBM)


@cuda.jit
def values_at_kernel(codes, cols, count, steps, out):
    """out[k] = the row's value at steps[k]: grid-stride over the given steps."""
    for k in range(cuda.grid(1), steps.shape[0], cuda.gridsize(1)):
        out[k] = value_at(codes, cols, count, float(steps[k]), LIBM)


def _blocks(count: int, threads_per_block: int, max_blocks: int) -> int:
    return max(1, min(-(-count // threads_per_block), max_blocks))


def fill_table(
    codes: Any,
    cols: Any,
    counts: Any,
    base_lrs: Any,
    start: int,
    out: Any,
    stream: Any = 0,
    *,
    threads_per_block: int = THREADS_PER_BLOCK,
    max_blocks_per_row: int = MAX_BLOCKS_PER_ROW,
    max_blocks_of_configs: int = MAX_BLOCKS_OF_CONFIGS,
) -> None:
    """Launch fill_table_kernel over out (configs, steps) on `stream`, without waiting for it.

    The block caps exist for the grid-stride loops; tests lower them to exercise the strides on tiny arrays.
    """
    num_configs, num_steps = out.shape
    if num_configs == 0 or num_steps == 0:
        return
    grid = (
        _blocks(num_steps, threads_per_block, max_blocks_per_row),
        max(1, min(num_configs, max_blocks_of_configs)),
    )
    fill_table_kernel[grid, threads_per_block, stream](codes, cols, counts, base_lrs, start, out)


def values_at(
    codes: Any,
    cols: Any,
    count: int,
    steps: Any,
    out: Any,
    stream: Any = 0,
    *,
    threads_per_block: int = THREADS_PER_BLOCK,
    max_blocks: int = MAX_BLOCKS_PER_ROW,
) -> None:
    """Launch values_at_kernel (out[k] = the row's value at steps[k]) on `stream`, without waiting for it."""
    if steps.shape[0] == 0:
        return
    blocks = _blocks(steps.shape[0], threads_per_block, max_blocks)
    values_at_kernel[blocks, threads_per_block, stream](codes, cols, count, steps, out)
