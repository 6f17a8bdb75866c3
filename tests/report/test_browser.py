"""The reports in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium) with the network cut off.

For the report of a small run and of a comparison it asserts: no console error (browser log at
level SEVERE), every figure drawn (its SVG present, not empty, with marks in it), and no
request but the file itself or ``data:``/``blob:`` (DevTools network events). It saves
screenshots (the first screen of a 1366x768 laptop and the whole page) in
``test-artifacts/`` (or ``$LVFLEX_TEST_ARTIFACTS``) and prints where. Without a browser the
tests skip and say why.
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


@pytest.mark.parametrize(("name", "folder", "n_figures"),
                         [("run-dso", "dso", 7), ("comparison", ".", 3)])
def test_report_renders_offline_in_chromium(browser, report_cmp, capsys, name, folder,
                                            n_figures):
    html = (report_cmp / folder / "report.html").resolve()
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
