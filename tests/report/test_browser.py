"""The reports in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium) with the network cut off.

For the report of a small run, of a comparison and of a sweep it asserts: no console error
(browser log at level SEVERE), every figure drawn (its SVG present, not empty, with marks in
it), and no request but the file itself or ``data:``/``blob:`` (DevTools network events). It
saves screenshots (the first screen of a 1366x768 laptop and the whole page) in
``test-artifacts/`` (or ``$LVFLEX_TEST_ARTIFACTS``) and prints where. In the sweep report the
mouse hovers heat-map cells and a typical day and reads what plotly shows. Without a browser
the tests skip and say why.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from ..conftest import ROOT

ARTIFACTS = Path(os.environ.get("LVFLEX_TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1366,768",
    # the network cut off: no name resolves, every connection goes to a proxy that is not there
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)
FIGURES_JS = """
return Array.from(document.querySelectorAll('div.report-plot[data-figure]')).map(function (div) {
  var svg = div.querySelector('svg.main-svg');
  var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  var marks = Array.from(div.querySelectorAll('.cartesianlayer .overplot path, '
      + '.cartesianlayer .overplot image')).filter(function (e) {  // what the traces drew
    var d = e.getAttribute('d') || e.getAttribute('href') || e.getAttribute('xlink:href');
    return d && d !== 'M0,0Z' && d.length > 4;
  }).length;
  return {key: div.dataset.figure, svg: !!svg, width: box.width, height: box.height,
          traces: (div._fullData || []).length, marks: marks,
          canvas: div.querySelectorAll('canvas').length};
});
"""


def _binaries() -> tuple[str, str]:
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(b)), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("no headless browser: chromium and chromedriver not on PATH "
                    "(Debian: apt-get install -y chromium chromium-driver)")
    return shutil.which(browser), driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium with the network cut off and the DevTools logs on."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed")
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


def _open(driver, html: Path, timeout_s: float = 60.0) -> dict:
    """Load a report and wait until its figures are drawn; its console log and requests."""
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get_log("performance")  # drop what came before this page
    driver.get(html.resolve().as_uri())
    t0 = time.monotonic()
    drawn = None
    while time.monotonic() - t0 < timeout_s:
        drawn = driver.execute_script("return document.body.getAttribute('data-figures-drawn')")
        if drawn is not None:
            break
        time.sleep(0.1)
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    return {
        "drawn": drawn,
        "console": driver.get_log("browser"),
        "requests": [e["params"]["request"]["url"] for e in events
                     if e["method"] == "Network.requestWillBeSent"],
        "failed": [e["params"] for e in events if e["method"] == "Network.loadingFailed"],
        "figures": driver.execute_script(FIGURES_JS),
    }


def _screenshots(driver, name: str) -> list[Path]:
    """The first screen and the whole page as PNG files in the artifacts folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    first = ARTIFACTS / f"{name}-screen.png"
    driver.save_screenshot(str(first))
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    full = ARTIFACTS / f"{name}-page.png"
    full.write_bytes(base64.b64decode(shot["data"]))
    return [first, full]


@pytest.mark.parametrize(("name", "fixture", "folder", "n_figures"), [
    ("run-dso", "report_cmp", "dso", 8), ("comparison", "report_cmp", ".", 3),
    ("sweep", "report_sweep", ".", 11),  # 8 heat maps, 2 calendars, wall times
    # (the run: 8 figures, the voltage unbalance among them: the feeder runs unbalanced)
])
def test_report_renders_offline_in_chromium(browser, request, capsys, name, fixture, folder,
                                            n_figures):
    html = (request.getfixturevalue(fixture) / folder / "report.html").resolve()
    page = _open(browser, html)
    severe = [e for e in page["console"] if e["level"] == "SEVERE"]
    assert severe == []
    assert page["drawn"] == str(n_figures)
    assert len(page["figures"]) == n_figures
    for f in page["figures"]:
        assert f["svg"] and f["width"] > 300 and f["height"] > 200, f
        assert f["traces"] > 0 and f["marks"] > 0, f  # something is drawn in the plot area
    url = html.as_uri()
    assert url in page["requests"]  # the log sees the page's requests...
    left = [u for u in page["requests"] if u != url and not u.startswith(("data:", "blob:"))]
    assert left == []  # ...and none left the file
    assert page["failed"] == []
    shots = _screenshots(browser, name)
    with capsys.disabled():
        print(f"\nscreenshots of the {name} report: {', '.join(map(str, shots))}")
    assert all(p.stat().st_size > 10_000 for p in shots)


# The centre of a point of a figure's trace in page pixels (relative to the figure's div):
# a heat-map cell (row, column) or a scatter point (column only).
POINT_JS = """
var div = document.getElementById(arguments[0]), t = div._fullData[arguments[1]];
var xa = div._fullLayout[t.xaxis === 'x' ? 'xaxis' : 'xaxis' + t.xaxis.slice(1)];
var ya = div._fullLayout[t.yaxis === 'y' ? 'yaxis' : 'yaxis' + t.yaxis.slice(1)];
var i = arguments[2], j = arguments[3];
var x = t.type === 'heatmap' ? xa.d2p(t.x[j]) : xa.d2p(t.x[i]);
var y = t.type === 'heatmap' ? ya.d2p(t.y[i]) : ya.d2p(t.y[i]);
var box = div.getBoundingClientRect();
return [xa._offset + x - box.width / 2, ya._offset + y - box.height / 2];
"""
HOVER_TEXT_JS = """
return Array.from(document.getElementById(arguments[0])
  .querySelectorAll('.hoverlayer .hovertext')).map(function (e) { return e.textContent; });
"""


def _hover(driver, plot_id: str, trace: int, i: int, j: int = 0) -> list[str]:
    """Move the mouse onto a point of a figure and read plotly's hover label."""
    from selenium.webdriver.common.action_chains import ActionChains

    div = driver.find_element("id", plot_id)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", div)
    dx, dy = driver.execute_script(POINT_JS, plot_id, trace, i, j)
    ActionChains(driver).move_to_element_with_offset(div, int(dx), int(dy)).perform()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5:
        text = driver.execute_script(HOVER_TEXT_JS, plot_id)
        if text:
            return text
        time.sleep(0.05)
    return []


def test_sweep_report_hover_shows_the_values(browser, report_sweep):
    """The mouse on each cell of the peak-loading heat map shows its scenario, level, value
    with unit (or why it is blank); on a framed day of the calendar, its weight."""
    import pandas as pd

    from testbed.report.sweep_figures import HEAT_KPIS
    from testbed.typical_days import read_days

    page = _open(browser, report_sweep / "report.html")
    assert page["drawn"] == "11"
    annual = pd.read_parquet(report_sweep / "annual.parquet").set_index(["scenario", "level"])
    kpi = HEAT_KPIS[0]
    plot = f"plot-annual-{kpi.key.replace('.', '-')}"
    for i, name in enumerate(("alpha", "beta")):
        for j, level in enumerate(("none", "dso")):
            row = annual.loc[(name, level)]
            shown = (f"{name}, level {level}{kpi.label}: {row[kpi.key]:.1f} %over 2 days"
                     if row.status == "complete" else
                     f"{name}, level {level}{kpi.label}: incomplete: 1 of 2 days")
            assert _hover(browser, plot, 0, i, j) == [shown]
    days = read_days(report_sweep / "days.csv")
    first = days[days.scenario == "alpha"].sort_values("date").iloc[0]
    (label,) = _hover(browser, "plot-days-0", 1, 0)
    assert label.startswith(f"typical day {first.day}: ") and first.date in label
    assert f"weight {first.weight:g} days" in label


def test_the_checks_see_a_broken_page(browser, tmp_path):
    """The same checks on a page that fetches from the network, logs an error and draws an
    empty figure: each problem is seen (the tests above can fail)."""
    from plotly.offline import get_plotlyjs

    html = tmp_path / "broken.html"
    html.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><script>" + get_plotlyjs()
        + "</script></head><body><img src='http://example.com/x.png'>"
        "<div class='report-plot' data-figure='empty' style='width:600px;height:300px'></div>"
        "<script>var d = document.querySelector('div.report-plot');"
        "Plotly.newPlot(d, [], {}).then(function () {"
        " document.body.setAttribute('data-figures-drawn', '1');"
        " console.error('boom'); });</script></body></html>")
    page = _open(browser, html)
    severe = sorted(e["message"] for e in page["console"] if e["level"] == "SEVERE")
    assert len(severe) == 2
    assert severe[0].startswith(html.as_uri()) and severe[0].endswith(' "boom"')
    assert severe[1] == ("http://example.com/x.png - Failed to load resource: "
                         "net::ERR_PROXY_CONNECTION_FAILED")  # the network is cut off
    assert "http://example.com/x.png" in page["requests"]
    assert [f["errorText"] for f in page["failed"]] == ["net::ERR_PROXY_CONNECTION_FAILED"]
    (fig,) = page["figures"]
    assert fig["svg"] and fig["traces"] == 0 and fig["marks"] == 0
