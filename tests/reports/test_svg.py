"""The report's SVG charts: well-formed, points where the data says, gaps for NaN, names escaped."""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np

from flash.core.reporting.svg import Panel, heatmap, line_charts, ticks

SVG = "{http://www.w3.org/2000/svg}"


def _points(polyline) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in polyline.get("points").split()]


def test_line_chart_places_points_by_value_and_breaks_at_nan():
    panel = Panel("losses", {"a<b": [(0, 1.0), (1, 0.5), (2, math.nan), (3, 0.0)]}, xlabel="step",
                  limits=((0.0, 3.0), (0.0, 1.0)))
    root = ElementTree.fromstring(line_charts([panel, panel]))
    assert float(root.get("width")) == 2 * 440  # two panels side by side
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 4  # per panel: a run before the NaN and one after it
    first = _points(lines[0])
    assert first[0][0] < first[1][0] and first[0][1] < first[1][1]  # x grows right; the higher loss is drawn higher
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "a<b" in texts and "losses" in texts and "step" in texts  # the name survives escaping


def test_heatmap_shades_by_value_and_writes_values():
    root = ElementTree.fromstring(heatmap(np.array([[1.0, 0.0], [0.25, 0.75]]), ["cat", "dog"], ["cat", "dog"],
                                          title="share", xlabel="predicted", ylabel="true"))
    cells = [r.get("fill") for r in root.findall(f"{SVG}rect")][1:]  # after the white background
    assert cells[0] == "#08306b" and cells[1] == "#ffffff" and len(set(cells)) == 4
    assert {"1.00", "0.00", "0.25", "0.75", "cat", "dog", "share"} <= {t.text for t in root.iter(f"{SVG}text")}


def test_ticks_are_round_and_cover_the_range():
    assert ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert ticks(3.0, 97.0) == [20.0, 40.0, 60.0, 80.0]
    assert ticks(5.0, 5.0) == [5.0]


def test_a_fit_report_does_not_import_matplotlib(tmp_path):
    code = ("import sys\nfrom tests.core.helpers import PointsClassifier, PointsInput, points\nimport flash\n"
            "from flash.core.data import DataModule\nfrom flash.core.metrics import Accuracy\n"
            "xs, ys = points(40)\n"
            "dm = DataModule(PointsInput('train', xs, ys), val_split=0.25, batch_size=8)\n"
            "model = PointsClassifier(2, labels=dm.labels, metrics=Accuracy('multiclass', num_classes=2))\n"
            f"trainer = flash.Trainer(max_epochs=1, default_root_dir={str(tmp_path)!r}, enable_progress_bar=False)\n"
            "trainer.fit(model, datamodule=dm)\n"
            "assert (trainer.log_dir / 'report' / 'curves.svg').is_file()\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
