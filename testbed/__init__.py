"""Cross-cutting pieces of the testbed: typed errors, scenarios, KPIs, results."""
