"""fastsched's Numba kernels (installed as ``fastsched.kernels``; no torch here).

- ``layout``: the segment table's columns.
- ``shapes``: each segment shape's value, once, as a scalar function (the only formulas).
- ``numerics``: how a division and a cosine are evaluated (LIBM, REDUCED, TURNS).
- ``walk``: which segment and which cycle hold a step.
- ``cpu``: serial and parallel loops over (configs x steps) that compile the shapes.
- ``cuda``: CUDA kernels that compile the same shapes as device functions.
- ``compiler``: where compiled kernels are cached, and when a parallel kernel may run.
"""
