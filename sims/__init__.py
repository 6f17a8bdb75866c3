"""Mosaik simulators and the actor models behind them (profiles, homes, grid, collector)."""
