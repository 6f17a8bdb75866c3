"""Networks: the reference UK feeder built in code, loaders of every accepted grid, checks."""
