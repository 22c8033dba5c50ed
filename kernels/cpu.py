"""CPU kernels: loops over (configs x steps) that call the formulas in `formulas.py`.

Every kernel takes the packed table (`codes`, `params`) the Python layer built and validated, and writes
into an output array it is given, so that callers control allocation (np.memmap included).
Serial kernels serve small requests: a fresh process then never starts the parallel runtime (~0.2 s).
"""

from numba import njit, prange

from .formulas import multiplier


@njit(cache=True, nogil=True)
def fill_table_serial(codes, params, base_lrs, start, out, fast):
    """out[i, j] = base_lrs[i] * multiplier(codes[i], start + j, params[i]), rounded once to out's dtype."""
    num_steps = out.shape[1]
    for i in range(out.shape[0]):
        code = codes[i]
        p = params[i]
        base_lr = base_lrs[i]
        row = out[i]
        for j in range(num_steps):
            row[j] = base_lr * multiplier(code, float(start + j), p, fast)


@njit(cache=True, nogil=True, parallel=True)
def fill_table_parallel(codes, params, base_lrs, start, out, fast):
    """fill_table_serial in parallel over (config, block of steps) tiles: cores stay busy for one config too."""
    num_configs, num_steps = out.shape
    block = 1 << 14
    blocks_per_row = (num_steps + block - 1) // block
    for tile in prange(num_configs * blocks_per_row):
        i = tile // blocks_per_row
        first = (tile % blocks_per_row) * block
        last = min(first + block, num_steps)
        code = codes[i]
        p = params[i]
        base_lr = base_lrs[i]
        row = out[i]
        for j in range(first, last):
            row[j] = base_lr * multiplier(code, float(start + j), p, fast)


@njit(cache=True, nogil=True)
def multipliers_at(code, p, steps, out):
    """out[k] = multiplier(code, steps[k], p) with libm's cosine: transformers' float64 values exactly."""
    for k in range(steps.shape[0]):
        out[k] = multiplier(code, float(steps[k]), p, False)
