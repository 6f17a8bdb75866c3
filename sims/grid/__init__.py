"""The grid actor: the feeder's load flow each step (model) and its mosaik adapter."""
