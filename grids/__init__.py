"""Feeder models (reference feeder, loaders, checks) and the load-flow engine."""
