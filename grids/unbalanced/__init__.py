"""The unbalanced (three-phase) load-flow engine: :class:`grids.UnbalancedLoadFlow`."""
