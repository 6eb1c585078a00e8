"""``report.html``: one self-contained page, checked as text and rendered in headless Chromium.

The browser test loads the page through a copy that adds one script: on ``load`` it writes, into
the DOM, how many tables have rendered rows and which images decoded (``naturalWidth``); then
``chromium --dump-dom`` prints the DOM. It skips, saying why, where Chromium is not installed
(Debian: ``apt-get install chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_report_helpers import gunpoint_experiment

from tune_bs import metrics as m
from tune_bs.report import write_report

PLOTS = ("plot-batch_size", "plot-val_loss", "plot-probe", "plot-time_to_target")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PROBE_SCRIPT = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(
    i => `${i.closest("figure").id}:${i.complete ? i.naturalWidth : 0}x${i.naturalHeight}`);
  const tables = [...document.querySelectorAll("table")].map(
    t => `${t.rows.length}:${t.getBoundingClientRect().height > 0 ? "shown" : "hidden"}`);
  const out = document.createElement("pre");
  out.id = "render-probe";
  out.textContent = JSON.stringify({images, tables});
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    experiment = gunpoint_experiment(tmp_path_factory.mktemp("results"))
    written = write_report(
        [experiment], fmt="html", out_dir=experiment / "out", metric=m.VAL_PROBE_ACC
    )
    assert [p.name for p in written.files] == ["report.html"]
    return written.tables["report"]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_page_is_self_contained_with_selection_first(page: Path) -> None:
    text = page.read_text()
    parser = _Tags()
    parser.feed(text)
    images = [a for t, a in parser.tags if t == "img"]
    assert len(images) == len(PLOTS)
    assert all(str(a["src"]).startswith("data:image/png;base64,") for a in images)
    assert not [t for t, _ in parser.tags if t in ("script", "link", "iframe")]
    assert "http://" not in text and "https://" not in text  # nothing fetched
    ids = [a.get("id") for _, a in parser.tags if a.get("id")]
    assert ids[:3] == ["selection", "status", "trials"]  # the selected trial is at the top
    assert ids[-len(PLOTS) :] == list(PLOTS)
    selection = text[text.index('id="selection"') : text.index('id="status"')]
    assert "val_probe_acc (validation, selected on)" in selection
    assert "Its configuration" in selection


def test_chromium_renders_every_table_and_plot(page: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip(
            "headless Chromium is not installed (Debian: apt-get install chromium); "
            "the page's structure is checked by the other tests here"
        )
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE_SCRIPT + "</body>"))
    done = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'<pre id="render-probe">(.*?)</pre>', done.stdout, re.S)
    assert match, done.stdout[-2000:]
    import html
    import json

    probe = json.loads(html.unescape(match.group(1)))
    rendered = dict(entry.split(":") for entry in probe["images"])
    assert set(rendered) == set(PLOTS)
    for size in rendered.values():
        width, height = (int(v) for v in size.split("x"))
        assert width > 300 and height > 200  # each PNG decoded to a real picture
    tables = [entry.split(":") for entry in probe["tables"]]
    assert all(state == "shown" for _, state in tables)
    rows = [int(n) for n, _ in tables]
    assert len(rows) >= 4 and rows[-2] == 1 + 7  # the trial table: header + 7 trials
