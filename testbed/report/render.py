"""Rendering a :class:`~testbed.report.page.Page` into one self-contained HTML file.

plotly.js (from the installed plotly package) is embedded once per page; each figure is its
JSON in a ``<script type="application/json">`` next to its ``<div>``, drawn by one small script
at the end. Nothing is fetched: the file opens in a browser with no network.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import jinja2
import plotly.io as pio
from markupsafe import Markup
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from testbed.report.page import Page

TEMPLATES = Path(__file__).resolve().parent / "templates"
# plotly's config for every figure: resize with the window, no plotly logo, PNG export at 2x.
PLOTLY_CONFIG = {"responsive": True, "displaylogo": False,
                 "modeBarButtonsToRemove": ["select2d", "lasso2d"],
                 "toImageButtonOptions": {"format": "png", "scale": 2}}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(["j2", "html"]),
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def _script_json(text: str) -> Markup:
    """JSON safe inside a ``<script>`` element (no ``</script>`` can end it early)."""
    return Markup(text.replace("</", "<\\/"))


def render_page(page: Page, *, generated: dt.datetime | None = None) -> str:
    """The page as one HTML document.

    Parameters
    ----------
    page
        The page (:mod:`testbed.report.run_report`, :mod:`testbed.report.compare_report`).
    generated
        The time printed in the footer (default: now).
    """
    figures = {f.key: {"key": f.key, "title": f.title, "caption": f.caption,
                       "json": _script_json(pio.to_json(f.figure, validate=False))}
               for f in page.figures}
    template = _environment().get_template(page.template)
    return template.render(
        title=page.title, figures=figures, figure_order=[f.key for f in page.figures],
        plotly_js=Markup(get_plotlyjs()), plotly_version=get_plotlyjs_version(),
        plotly_config=_script_json(pio.json.to_json_plotly(PLOTLY_CONFIG)),
        generated=(generated or dt.datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M %Z"),
        **page.context)


def write_page(page: Page, out: str | Path) -> Path:
    """Render a page and write it (atomically: a reader never sees half a report)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(render_page(page), encoding="utf-8")
    tmp.replace(out)
    return out
