"""UC2, the aggregator: its portfolio, the local flexibility market, its mosaik adapter."""
