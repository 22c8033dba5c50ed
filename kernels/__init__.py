"""fastsched's Numba kernels (installed as ``fastsched.kernels``; no torch here).

- ``formulas``: each schedule's multiplier, once, as a scalar function.
- ``cpu``: serial and parallel loops over (configs x steps) that compile those formulas.
- ``cuda``: CUDA kernels that compile the same formulas as device functions.
"""
