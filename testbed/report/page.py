"""A report page before rendering: its template, title, figures and template context."""

from __future__ import annotations

from dataclasses import dataclass, field

import plotly.graph_objects as go


@dataclass
class ReportFigure:
    """A figure of a report: its anchor (``key``), its plotly figure and a caption."""

    key: str
    figure: go.Figure
    caption: str = ""

    @property
    def title(self) -> str:
        """The figure's title, as drawn."""
        return self.figure.layout.title.text or ""


@dataclass
class Page:
    """What a report module hands to :func:`testbed.report.render.render_page`.

    Attributes
    ----------
    template
        The jinja2 template under ``testbed/report/templates/`` (``run.html.j2``...).
    title
        The page title.
    figures
        The figures, in page order; the template places each by its ``key``.
    context
        Everything else the template shows (tables, facts, notes).
    """

    template: str
    title: str
    figures: list[ReportFigure] = field(default_factory=list)
    context: dict = field(default_factory=dict)

    def figure(self, key: str) -> ReportFigure | None:
        """The figure with this key, if the page has it."""
        return next((f for f in self.figures if f.key == key), None)
