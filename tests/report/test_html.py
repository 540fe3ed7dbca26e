"""The HTML report: structure and escaping from the string, then rendering checked in a real headless Chromium.

The run documents below are hand-built fakes of schema ``assay.run/1`` (no other assay module is used), shaped like
what an evaluation of a credit-default model, an iris-like classifier and a house-price regressor would produce.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import stat
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pytest

from assay.errors import InputError
from assay.report import render_run, write_html

Z = 1.959963984540054
PHI = NormalDist()

# --------------------------------------------------------------------------------------------------------------------
# fake run documents


def wilson(p: float, n: int, *, higher_is_better: bool = True) -> dict[str, Any]:
    """A proportion metric with its Wilson interval, as the evaluation would write it."""
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return {
        "value": p,
        "ci_low": centre - half,
        "ci_high": centre + half,
        "se": math.sqrt(p * (1 - p) / n),
        "n": n,
        "method": "wilson",
        "higher_is_better": higher_is_better,
    }


def normal(value: float, se: float, n: int, method: str, *, higher_is_better: bool = True) -> dict[str, Any]:
    return {
        "value": value,
        "ci_low": value - Z * se,
        "ci_high": value + Z * se,
        "se": se,
        "n": n,
        "method": method,
        "higher_is_better": higher_is_better,
    }


def undefined(reason: str, n: int, method: str, *, higher_is_better: bool = True) -> dict[str, Any]:
    return {
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "se": None,
        "n": n,
        "method": method,
        "higher_is_better": higher_is_better,
        "reason": reason,
    }


def auc(value: float, n: int) -> dict[str, Any]:
    metric = normal(value, 0.5 * (1 - value) / math.sqrt(n / 40), n, "delong")
    return {**metric, "ci_low": max(0.0, metric["ci_low"]), "ci_high": min(1.0, metric["ci_high"])}  # clipped


def binary_metrics(n: int, *, auc_value: float, accuracy: float, recall: float, precision: float) -> dict[str, Any]:
    positives = max(1, round(0.23 * n))
    return {
        "roc_auc": auc(auc_value, n),
        "accuracy": wilson(accuracy, n),
        "precision": wilson(precision, max(1, round(positives * recall / precision))),
        "recall": wilson(recall, positives),
        "log_loss": normal(0.9 - 0.7 * auc_value, 0.6 / math.sqrt(n), n, "normal", higher_is_better=False),
    }


def run_header(
    task: str, model: str | None, version: str | None, dataset: str | None, rows: int, **config: Any
) -> dict[str, Any]:
    return {
        "schema": "assay.run/1",
        "run_id": "run-2024-06-03T09-14-27-5f2c",
        "created_at": "2024-06-03T09:14:27+00:00",
        "assay_version": "0.1.0",
        "task": task,
        "model": {"name": model, "version": version},
        "dataset": {
            "name": dataset,
            "fingerprint": "sha256:5f2c9a81d0e47b3c1a9e0f6d2b8c4e71a3f09d5c6b2e8a417f3d9c0b1e2a6f48",
            "rows": rows + 173,
            "rows_used": rows,
            "rows_missing_label": 173,
        },
        "config": {"confidence": 0.95, "seed": 0, **config},
        "metrics": {},
        "slices": {},
    }


def binary_doc() -> dict[str, Any]:
    """Credit-default scoring: every section present (2 slice columns, 1 sensitive attribute)."""
    n = 48_210
    doc = run_header(
        "binary",
        "credit-default-gbm",
        "v2.3.1",
        "loans-2024-q1 holdout",
        n,
        threshold=0.5,
        classes=[0, 1],
        k=None,
        primary_metric="roc_auc",
        n_bins=10,
    )
    doc["metrics"] = {
        **binary_metrics(n, auc_value=0.8712, accuracy=0.8431, recall=0.6125, precision=0.7012),
        "average_precision": normal(0.6534, 0.0061, n, "logit"),
        "f1": normal(0.6539, 0.0052, n, "delta"),
        "mcc": normal(0.5517, 0.0068, n, "delta"),
        "brier": normal(0.1093, 0.0011, n, "normal", higher_is_better=False),
        "fpr": wilson(0.0781, round(0.77 * n), higher_is_better=False),
        "selection_rate": wilson(0.2011, n),
    }
    a, b = 1.6, 1.05
    fpr = [(i / 199) ** 2.5 for i in range(200)]  # denser where the curve bends
    tpr = [0.0] + [PHI.cdf(a + b * PHI.inv_cdf(f)) for f in fpr[1:-1]] + [1.0]
    prevalence = 0.2301
    recall = [0.0, *tpr[1:]]
    precision = [1.0] + [t * prevalence / (t * prevalence + f * (1 - prevalence)) for f, t in zip(fpr[1:], tpr[1:])]
    doc["curves"] = {
        "roc": {"fpr": fpr, "tpr": tpr, "auc": 0.8712},
        "pr": {"recall": recall, "precision": precision, "average_precision": 0.6534, "prevalence": prevalence},
    }
    counts = [9100, 8400, 7300, 6200, 5000, 4100, 3200, 2500, 1500, 910]
    bins = []
    for i, count in enumerate(counts):
        mean = i / 10 + 0.05 + 0.01 * math.sin(i)
        observed = mean - 0.06 * mean * mean + 0.01
        low, high = wilson(observed, count)["ci_low"], wilson(observed, count)["ci_high"]
        bins.append(
            {
                "lower": i / 10,
                "upper": (i + 1) / 10,
                "n": count,
                "mean_predicted": mean,
                "observed": observed,
                "ci_low": low,
                "ci_high": high,
            }
        )
    doc["calibration"] = {"bins": bins, "ece": 0.0214}
    doc["confusion_matrix"] = {"labels": ["no default", "default"], "matrix": [[33_855, 2_903], [4_658, 6_794]]}
    regions = {
        "north": (14_020, 0.8801),
        "south": (12_874, 0.8690),
        "east": (11_311, 0.8755),
        "west": (9_693, 0.8663),
        "islands": (312, 0.7104),
    }
    ages = {
        "18–25": (6_020, 0.8433),
        "26–35": (12_874, 0.8741),
        "36–50": (15_310, 0.8802),
        "51–65": (9_993, 0.8712),
        "65+": (4_013, 0.8231),
    }
    doc["slices"] = {
        column: {
            group: {
                "n": size,
                "metrics": binary_metrics(
                    size, auc_value=value, accuracy=value - 0.028, recall=value - 0.26, precision=value - 0.17
                ),
            }
            for group, (size, value) in groups.items()
        }
        for column, groups in (("region", regions), ("age_band", ages))
    }
    sex = {
        "female": (21_640, 0.1784, 0.5911, 0.0702, 0.8502),
        "male": (26_312, 0.2197, 0.6288, 0.0849, 0.8376),
        "not stated": (258, 0.2016, 0.5800, 0.0810, 0.8295),
    }
    doc["fairness"] = {
        "sex": {
            "groups": {
                group: {
                    "n": size,
                    "selection_rate": wilson(sr, size),
                    "tpr": wilson(tpr_, round(0.23 * size)),
                    "fpr": wilson(fpr_, round(0.77 * size), higher_is_better=False),
                    "accuracy": wilson(acc, size),
                }
                for group, (size, sr, tpr_, fpr_, acc) in sex.items()
            },
            "demographic_parity_difference": normal(0.0413, 0.0037, n, "bootstrap", higher_is_better=False),
            "demographic_parity_ratio": normal(0.8120, 0.0151, n, "bootstrap"),
            "equalized_odds_difference": normal(0.0488, 0.0102, n, "bootstrap", higher_is_better=False),
            "equalized_odds_ratio": normal(0.8268, 0.0213, n, "bootstrap"),
        }
    }
    return doc


def multiclass_doc() -> dict[str, Any]:
    """Three classes: metrics, a 3x3 confusion matrix and one slice column; no curves, no calibration."""
    n = 1_500
    doc = run_header(
        "multiclass",
        "iris-svc",
        "1.0.0",
        "iris-extended",
        n,
        classes=["setosa", "versicolor", "virginica"],
        primary_metric="accuracy",
    )
    doc["metrics"] = {
        "accuracy": wilson(0.9420, n),
        "macro_f1": normal(0.9413, 0.0061, n, "delta"),
        "balanced_accuracy": normal(0.9420, 0.0060, n, "delta"),
        "log_loss": normal(0.1712, 0.0094, n, "normal", higher_is_better=False),
    }
    doc["confusion_matrix"] = {
        "labels": ["setosa", "versicolor", "virginica"],
        "matrix": [[498, 2, 0], [0, 461, 39], [0, 46, 454]],
    }
    doc["slices"] = {
        "collector": {
            name: {
                "n": size,
                "metrics": {"accuracy": wilson(acc, size), "macro_f1": normal(acc - 0.001, 0.01, size, "delta")},
            }
            for name, (size, acc) in {
                "anderson": (700, 0.9514),
                "fisher": (650, 0.9400),
                "new site": (150, 0.8933),
            }.items()
        }
    }
    return doc


def regression_doc() -> dict[str, Any]:
    """House prices: metrics on a large scale (thousands separators) and two slice columns; nothing else."""
    n = 20_640
    doc = run_header("regression", "house-price-ridge", "2024.05", "california-housing", n, primary_metric="mae")
    doc["metrics"] = {
        "mae": normal(23_456.7, 412.3, n, "normal", higher_is_better=False),
        "rmse": normal(34_120.2, 801.0, n, "normal", higher_is_better=False),
        "r2": normal(0.6062, 0.0101, n, "delta"),
        "median_absolute_error": normal(16_410.0, 330.0, n, "order-statistic", higher_is_better=False),
    }

    def group(size: int, mae: float) -> dict[str, Any]:
        se = mae * 1.2 / math.sqrt(size)
        return {
            "n": size,
            "metrics": {
                "mae": normal(mae, se, size, "normal", higher_is_better=False),
                "rmse": normal(mae * 1.45, se * 1.8, size, "normal", higher_is_better=False),
                "r2": normal(0.6 - (mae - 23_000) / 80_000, 0.03, size, "delta"),
            },
        }

    doc["slices"] = {
        "ocean_proximity": {
            "<1H OCEAN": group(9_136, 22_100.0),
            "INLAND": group(6_551, 20_950.0),
            "NEAR OCEAN": group(2_658, 27_900.0),
            "NEAR BAY": group(2_290, 26_400.0),
            "ISLAND": group(5, 61_000.0),
        },
        "built": {
            "before 1950": group(3_120, 25_800.0),
            "1950–1979": group(9_870, 23_900.0),
            "1980 or later": group(7_650, 22_050.0),
        },
    }
    return doc


def null_doc() -> dict[str, Any]:
    """A binary run on a tiny, one-sided sample: undefined metrics with reasons everywhere they can appear."""
    n = 37
    doc = run_header("binary", None, None, None, n, threshold=0.5, primary_metric="roc_auc")
    doc["metrics"] = {
        "roc_auc": undefined("only one class present in y_true (all 0)", n, "delong"),
        "accuracy": wilson(0.9189, n),
        "precision": undefined("no positive predictions (zero denominator)", n, "wilson"),
        "recall": undefined("no positive labels (zero denominator)", n, "wilson"),
        "log_loss": normal(0.2210, 0.051, n, "normal", higher_is_better=False),
    }
    doc["calibration"] = {
        "bins": [
            {
                "lower": i / 5,
                "upper": (i + 1) / 5,
                "n": c,
                "mean_predicted": m,
                "observed": o,
                "ci_low": lo,
                "ci_high": hi,
            }
            for i, (c, m, o, lo, hi) in enumerate(
                [
                    (30, 0.08, 0.0, 0.0, 0.1135),
                    (7, 0.27, 0.0, 0.0, 0.3543),
                    (0, None, None, None, None),
                    (0, None, None, None, None),
                    (0, None, None, None, None),
                ]
            )
        ],
        "ece": None,
    }
    doc["slices"] = {
        "branch": {
            "A": {
                "n": 30,
                "metrics": {
                    "roc_auc": undefined("only one class present", 30, "delong"),
                    "accuracy": wilson(0.9333, 30),
                },
            },
            "B": {
                "n": 7,
                "metrics": {"roc_auc": undefined("only one class present", 7, "delong"), "accuracy": wilson(0.8571, 7)},
            },
        }
    }
    doc["fairness"] = {
        "sex": {
            "groups": {
                g: {
                    "n": size,
                    "selection_rate": wilson(0.0, size),
                    "tpr": undefined("no positives", 0, "wilson"),
                    "fpr": wilson(0.0, size, higher_is_better=False),
                    "accuracy": wilson(acc, size),
                }
                for g, size, acc in (("female", 20, 0.95), ("male", 17, 0.8824))
            },
            "demographic_parity_difference": normal(0.0, 0.0, n, "bootstrap", higher_is_better=False),
            "demographic_parity_ratio": undefined("selection rate is 0 in every group (0/0)", n, "bootstrap"),
            "equalized_odds_difference": undefined(
                "no positives in any group: TPR undefined", n, "bootstrap", higher_is_better=False
            ),
            "equalized_odds_ratio": undefined("no positives in any group: TPR undefined", n, "bootstrap"),
        }
    }
    return doc


def many_groups_doc(groups: int = 10_000) -> dict[str, Any]:
    """The binary run with a slice column of ``groups`` customer ids (one of them without a value)."""
    doc = binary_doc()
    column = {}
    for i in range(groups):
        size = 20 + (i * 7919) % 400
        value = 0.6 + 0.35 * ((i * 104_729) % 1000) / 1000
        column[f"customer-{i:05d}"] = {
            "n": size,
            "metrics": binary_metrics(
                size, auc_value=value, accuracy=value - 0.03, recall=value - 0.3, precision=value - 0.2
            ),
        }
    column["customer-99999"] = {"n": 3, "metrics": {"roc_auc": undefined("only one class present", 3, "delong")}}
    doc["slices"] = {"customer_id": column}
    return doc


# charts: binary = ROC + PR + reliability + confusion + 2 slice columns + 4 fairness rates
DOCS = {
    "binary": (binary_doc, 10),
    "multiclass": (multiclass_doc, 2),
    "regression": (regression_doc, 2),
    "null": (null_doc, 6),
}

# --------------------------------------------------------------------------------------------------------------------
# the HTML string


def sections(page: str) -> list[str]:
    return re.findall(r'<section class="card" id="([a-z]+)"', page)


def test_sections_follow_the_data() -> None:
    assert sections(render_run(binary_doc())) == ["metrics", "curves", "calibration", "confusion", "slices", "fairness"]
    assert sections(render_run(multiclass_doc())) == ["metrics", "confusion", "slices"]
    assert sections(render_run(regression_doc())) == ["metrics", "slices"]
    assert sections(render_run(null_doc())) == ["metrics", "calibration", "slices", "fairness"]


@pytest.mark.parametrize("name", sorted(DOCS))
def test_chart_count_and_no_url(name: str) -> None:
    build, charts = DOCS[name]
    page = render_run(build())
    assert page.count('<svg class="chart"') == charts
    assert f'data-assay-charts-expected="{charts}"' in page
    assert "http://" not in page and "https://" not in page
    assert re.search(r"\b(src|href)=\"(?!#)", page) is None  # only in-page anchors


def test_typical_report_is_small() -> None:
    assert len(render_run(binary_doc()).encode()) < 300_000


def test_header_and_metric_table() -> None:
    page = render_run(binary_doc())
    assert "credit-default-gbm" in page and "v2.3.1" in page and "loans-2024-q1 holdout" in page
    assert "sha256:5f2c9a81d0e4<" in page  # short fingerprint shown, the full one as a tooltip
    assert "48,210" in page and "48,383" in page  # rows used, of rows
    assert "0.8712" in page and "95% interval" in page and "delong" in page
    assert '<span class="badge primary">primary</span>' in page


def test_numbers_have_four_significant_digits_and_separators() -> None:
    page = render_run(regression_doc())
    assert ">23,460<" in page  # MAE 23,456.7
    assert "0.6062" in page and "20,640" in page
    assert ">23456" not in page and "23,456.7" not in page  # the raw value is only a sort key


def test_undefined_metrics_show_a_dash_and_their_reason() -> None:
    page = render_run(null_doc())
    assert 'title="only one class present in y_true (all 0)">—</span>' in page
    assert '<span class="reason">no positive predictions (zero denominator)</span>' in page
    assert "selection rate is 0 in every group (0/0)" in page
    assert re.search(r"\bnan\b", page, re.IGNORECASE) is None
    assert "Unnamed model" in page


def test_slices_flag_groups_whose_interval_is_worse_than_overall() -> None:
    page = render_run(binary_doc())
    flagged = re.findall(r'<td class="name">([^<]+)<span class="badge worst">', page)
    assert flagged == ["islands", "65+", "18–25"]  # worst first within each column
    regression = render_run(regression_doc())  # lower is better: flagged when the whole interval is above
    assert re.findall(r'<td class="name">([^<]+)<span class="badge worst">', regression) == [
        "NEAR OCEAN",
        "NEAR BAY",
        "before 1950",
    ]


def test_user_strings_are_escaped() -> None:
    doc = binary_doc()
    attack = '<script>document.body.dataset.pwned = "1"</script>'
    doc["model"]["name"] = 'model "<b>&'
    doc["slices"] = {"<img src=x onerror=alert(1)>": {attack: doc["slices"]["region"]["north"]}}
    doc["fairness"]["sex"]["groups"] = {attack: doc["fairness"]["sex"]["groups"]["male"]}
    doc["confusion_matrix"]["labels"] = [attack, "</svg><script>x()</script>"]
    doc["config"]["note"] = "</script><script>alert(1)</script>"
    page = render_run(doc)
    assert "<script>document" not in page and "<img" not in page and "<script>x()" not in page
    assert "</script><script>alert" not in page
    assert page.count("<script>") == 2  # the report's own two
    assert "&lt;script&gt;document.body.dataset.pwned" in page
    assert "model &quot;&lt;b&gt;&amp;" in page


def test_many_groups_are_capped() -> None:
    page = render_run(many_groups_doc())
    assert len(page.encode()) < 300_000
    start = page.index("All metrics per group")
    table = page[start : page.index("</table>", start)]
    assert table.count("<tr") == 1 + 30 + 1  # header, 15 worst and 15 best, overall
    assert "Showing the 15 worst and 15 best of 10,001 groups; <b>9,971 groups omitted</b>" in page
    assert "customer-99999" not in page  # the group without a value is counted, not drawn


def test_long_curves_are_thinned() -> None:
    doc = binary_doc()
    n = 50_000
    doc["curves"]["roc"]["fpr"] = [i / (n - 1) for i in range(n)]
    doc["curves"]["roc"]["tpr"] = [math.sqrt(i / (n - 1)) for i in range(n)]
    assert len(render_run(doc).encode()) < 300_000


def test_rejects_a_document_of_another_schema() -> None:
    doc = binary_doc()
    doc["schema"] = "assay.run/0"
    with pytest.raises(InputError, match=r"field 'schema'.*expected 'assay.run/1', found 'assay.run/0'"):
        render_run(doc)
    with pytest.raises(InputError, match="expected a mapping"):
        render_run([])  # type: ignore[arg-type]


def test_write_html_is_atomic_and_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    umask = os.umask(0o022)  # a new file gets 0o666 filtered by the umask
    try:
        write_html(target, "<p>first</p>")
    finally:
        os.umask(umask)
    assert target.read_text(encoding="utf-8") == "<p>first</p>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    target.chmod(0o600)
    write_html(str(target), "<p>second — é</p>")
    assert target.read_text(encoding="utf-8") == "<p>second — é</p>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind


def test_write_html_leaves_no_temporary_file_on_failure(tmp_path: Path) -> None:
    with pytest.raises(UnicodeEncodeError):
        write_html(tmp_path / "report.html", "\ud800")  # a lone surrogate cannot be encoded
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------------------------------
# in a real browser


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "chromium is not on PATH: run scripts/install-chromium.sh (as root) to install it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def browse(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


class Body(HTMLParser):
    """The attributes of <body> and the number of chart elements in a dumped DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str | None] = {}
        self.charts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.attrs = dict(attrs)
        elif tag == "svg" and (dict(attrs).get("class") or "").split() == ["chart"]:
            self.charts += 1


def dump(html: str, tmp_path: Path) -> tuple[Body, str]:
    page = tmp_path / "report.html"
    write_html(page, html)
    result = browse(page, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    body = Body()
    body.feed(result.stdout)
    return body, result.stdout


@pytest.mark.parametrize("name", sorted(DOCS))
def test_renders_in_chromium(name: str, tmp_path: Path) -> None:
    build, charts = DOCS[name]
    html = render_run(build())
    assert "http://" not in html and "https://" not in html
    body, dom = dump(html, tmp_path)
    assert body.attrs.get("data-assay-status") == "ok", body.attrs
    assert "data-assay-errors" not in body.attrs
    assert body.attrs.get("data-assay-charts") == str(charts)
    assert body.charts == charts and dom.count('<svg class="chart"') == charts


def test_hostile_strings_do_not_run_in_chromium(tmp_path: Path) -> None:
    doc = binary_doc()
    attack = '<script>document.body.dataset.pwned = "1"</script>'
    doc["slices"]["region"][attack] = doc["slices"]["region"].pop("islands")
    doc["fairness"]["sex"]["groups"][attack] = doc["fairness"]["sex"]["groups"].pop("male")
    body, _ = dump(render_run(doc), tmp_path)
    assert body.attrs.get("data-assay-status") == "ok", body.attrs
    assert "data-pwned" not in body.attrs


def test_many_groups_render_in_chromium(tmp_path: Path) -> None:
    body, _ = dump(render_run(many_groups_doc()), tmp_path)
    assert body.attrs.get("data-assay-status") == "ok", body.attrs
    assert body.attrs.get("data-assay-charts") == "9"  # one slice column instead of two


def test_status_reports_a_chart_without_a_box(tmp_path: Path) -> None:
    """The self-check is not a rubber stamp: a hidden chart turns the status into an error."""
    html = render_run(regression_doc()).replace(
        '<svg class="chart" id="chart-2"', '<svg class="chart" id="chart-2" style="display:none"'
    )
    body, _ = dump(html, tmp_path)
    assert body.attrs.get("data-assay-status") == "error: empty bounding box: chart-2"


def test_status_reports_script_errors(tmp_path: Path) -> None:
    html = render_run(regression_doc()).replace("</main>", "</main><script>undefinedFunction();</script>")
    body, _ = dump(html, tmp_path)
    assert "undefinedFunction" in (body.attrs.get("data-assay-errors") or "")
    assert (body.attrs.get("data-assay-status") or "").startswith("error: script errors")


def test_screenshot(tmp_path: Path) -> None:
    page, shot = tmp_path / "report.html", tmp_path / "report.png"
    write_html(page, render_run(binary_doc()))
    result = browse(page, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(data[16:20], "big") == 1280 and int.from_bytes(data[20:24], "big") == 2400
    assert len(data) > 50_000  # a blank page compresses to a few kB
