"""Parameters of the aggregator simulator, under the scenario's field names.

:class:`AggregatorConfig` is what :mod:`sims.aggregator.simulator` takes (as
``cfg.to_dict()``); the study layer fills it with ``AggregatorConfig.from_attrs(scenario)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sims.config import Config

__all__ = ["AggregatorConfig"]


@dataclass(frozen=True)
class AggregatorConfig(Config):
    """What the aggregators of a run share.

    Attributes
    ----------
    step_s
        Step length [s]; the day-ahead stage runs at the first step of each day.
    cems_workers
        Processes re-planning homes in parallel (1: in this process).
    """

    step_s: int = 900
    cems_workers: int = 1

    @property
    def steps_per_day(self) -> int:
        """Steps in 24 h."""
        return 86400 // self.step_s
