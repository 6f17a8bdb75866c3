"""The actors, one package each (homes with their CEMS, grid, aggregator, DSO, collector).

Each package holds a model usable without mosaik and its thin mosaik adapter
(``simulator.py``); :mod:`sims.usef` holds the USEF messages aggregator and DSO share.
"""
