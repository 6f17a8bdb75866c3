"""The balanced load-flow engine: net -> compiled arrays -> numba kernels -> result."""
