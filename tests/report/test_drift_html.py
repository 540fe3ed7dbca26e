"""The drift HTML report: the hand-built document validates against the published schema, the page is escaped,
ordered by severity and self-contained, and it renders in a real headless Chromium (helpers from ``test_html``).

The document below is a hand-built fake of schema ``assay.drift/1`` (no drift computation is used), shaped like what
comparing a month of loan applications against the training table would produce: numeric, categorical, text and
boolean columns, a column whose type changed, a prediction column, a multivariate check, and a column name that is
an attack.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from statistics import NormalDist
from typing import Any

import jsonschema
import pytest

from assay.errors import InputError
from assay.report import svg
from assay.report.drift_html import render_drift, write_html

from .test_html import Body, browse

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas" / "assay.drift-1.schema.json").read_text())
ATTACK = '<script>document.body.dataset.pwned = "1"</script>'
EVIL_CATEGORY = "<img src=x onerror=alert(1)>"

# --------------------------------------------------------------------------------------------------------------------
# a fake drift document


def numeric_histogram(ref: NormalDist, cur: NormalDist, bins: int = 10) -> dict[str, Any]:
    """Reference-decile bins between the reference's 0.1% and 99.9% quantiles; current shares from ``cur``."""
    qs = [0.001, *(i / bins for i in range(1, bins)), 0.999]
    edges = [ref.inv_cdf(q) for q in qs]

    def shares(dist: NormalDist) -> tuple[list[float], float, float]:
        below, above = dist.cdf(edges[0]), 1 - dist.cdf(edges[-1])
        return [dist.cdf(b) - dist.cdf(a) for a, b in itertools.pairwise(edges)], below, above

    ref_shares, ref_below, ref_above = shares(ref)
    cur_shares, cur_below, cur_above = shares(cur)
    return {
        "type": "numeric",
        "edges": edges,
        "reference": ref_shares,
        "current": cur_shares,
        "below": {"reference": ref_below, "current": cur_below},
        "above": {"reference": ref_above, "current": cur_above},
    }


def make_test(
    name: str, method: str, effect: float, threshold: float, p: float, p_adj: float, effect_name: str
) -> dict[str, Any]:
    significant = p_adj < 0.05
    return {
        "name": name,
        "method": method,
        "statistic": effect,
        "p_value": p,
        "p_adjusted": p_adj,
        "effect": effect,
        "effect_name": effect_name,
        "threshold": threshold,
        "significant": significant,
        "drifted": significant and effect >= threshold,
        "notes": [],
    }


def quality(
    missing: tuple[float, float] = (0.0, 0.0),
    *,
    below: float | None = None,
    above: float | None = None,
    new: list[str] | None = None,
    new_share: float = 0.0,
    gone: list[str] | None = None,
    dtype: str = "double",
) -> dict[str, Any]:
    return {
        "missing_reference": missing[0],
        "missing_current": missing[1],
        "below_range_current": below,
        "above_range_current": above,
        "out_of_range_current": None if below is None or above is None else below + above,
        "new_categories": new or [],
        "new_categories_count": len(new or []),
        "new_category_share": new_share,
        "gone_categories": gone or [],
        "gone_categories_count": len(gone or []),
        "type_reference": dtype,
        "type_current": dtype,
        "type_changed": False,
    }


def column(
    kind: str,
    value: dict[str, Any],
    missing: dict[str, Any],
    *,
    q: dict[str, Any],
    summary: dict[str, Any] | None,
    histogram: dict[str, Any] | None,
    role: str = "feature",
) -> dict[str, Any]:
    tests = [value, missing]
    drifted = any(t["drifted"] for t in tests)
    worst = max(tests, key=lambda t: t["effect"] / t["threshold"])
    head = value if not drifted or value["drifted"] else missing
    verb = ">=" if head["effect"] >= head["threshold"] else "<"
    return {
        "kind": kind,
        "role": role,
        "status": "ok",
        "drifted": drifted,
        "severity": worst["effect"] / worst["threshold"],
        "method": head["method"],
        "statistic": head["statistic"],
        "p_value": head["p_value"],
        "p_adjusted": head["p_adjusted"],
        "effect": head["effect"],
        "effect_name": head["effect_name"],
        "threshold": head["threshold"],
        "reason": f"{head['effect_name']} {head['effect']:.3g} {verb} {head['threshold']:g}, "
        f"p_adj {head['p_adjusted']:.2g}",
        "tests": tests,
        "quality": q,
        "summary": summary,
        "histogram": histogram,
    }


def missing_test(ref: float, cur: float, p_adj: float = 1.0) -> dict[str, Any]:
    return make_test(
        "missing_rate", "missing_rate", abs(cur - ref), 0.05, min(1.0, p_adj / 4), p_adj, "abs_diff_missing_rate"
    )


def numeric_summary(ref: NormalDist, cur: NormalDist, n: tuple[int, int]) -> dict[str, Any]:
    def side(d: NormalDist, size: int) -> dict[str, Any]:
        return {
            "n": size,
            "mean": d.mean,
            "sd": d.stdev,
            "min": d.inv_cdf(0.0005),
            "p05": d.inv_cdf(0.05),
            "p50": d.median,
            "p95": d.inv_cdf(0.95),
            "max": d.inv_cdf(0.9995),
        }

    return {"reference": side(ref, n[0]), "current": side(cur, n[1])}


def drift_doc() -> dict[str, Any]:
    age_ref, age_cur = NormalDist(40.1, 12.0), NormalDist(42.6, 12.1)
    inc_ref, inc_cur = NormalDist(52_000, 18_000), NormalDist(52_400, 18_100)
    score_ref, score_cur = NormalDist(0.22, 0.1), NormalDist(0.31, 0.12)
    len_ref, len_cur = NormalDist(120, 30), NormalDist(126, 33)
    columns = {
        "income": column(
            "numeric",
            make_test("value", "ks", 0.012, 0.04, 0.21, 1.0, "ks_d"),
            missing_test(0.01, 0.012),
            q=quality((0.01, 0.012), below=0.0008, above=0.0011),
            summary=numeric_summary(inc_ref, inc_cur, (99_000, 4_940)),
            histogram=numeric_histogram(inc_ref, inc_cur),
        ),
        "country": column(
            "categorical",
            make_test("value", "chi2", 0.105, 0.05, 1e-40, 6e-39, "cramers_v_balanced"),
            missing_test(0.0, 0.0),
            q=quality(new=["FR"], new_share=0.1, gone=["AT"], dtype="string"),
            summary={"reference": {"n": 100_000, "distinct": 12}, "current": {"n": 5_000, "distinct": 12}},
            histogram={
                "type": "categorical",
                "categories": ["US", "DE", "GB", "(other)", "(new)"],
                "reference": [0.5, 0.25, 0.05, 0.2, 0.0],
                "current": [0.4, 0.25, 0.06, 0.19, 0.1],
            },
        ),
        "broken": {
            "kind": "numeric",
            "role": "feature",
            "status": "type_mismatch",
            "drifted": False,
            "severity": 0,
            "method": None,
            "statistic": None,
            "p_value": None,
            "p_adjusted": None,
            "effect": None,
            "effect_name": None,
            "threshold": None,
            "reason": "numeric (double) in the reference but text (string) in the current table",
            "tests": [],
            "quality": {
                "missing_reference": 0.0,
                "missing_current": 0.0,
                "type_reference": "double",
                "type_current": "string",
                "type_changed": True,
            },
            "summary": None,
            "histogram": None,
        },
        "age": column(
            "numeric",
            make_test("value", "psi", 0.038, 0.01, 1e-30, 2e-29, "psi"),
            missing_test(0.0, 0.2, 1e-200),
            q=quality((0.0, 0.2), below=0.001, above=0.03),
            summary=numeric_summary(age_ref, age_cur, (100_000, 4_000)),
            histogram=numeric_histogram(age_ref, age_cur),
        ),
        "flag": column(
            "boolean",
            make_test("value", "z", 0.012, 0.05, 0.03, 0.18, "abs_diff_proportion"),
            missing_test(0.0, 0.0),
            q=quality(dtype="bool"),
            summary={"reference": {"n": 100_000, "true_share": 0.4}, "current": {"n": 5_000, "true_share": 0.415}},
            histogram={
                "type": "categorical",
                "categories": ["false", "true"],
                "reference": [0.6, 0.4],
                "current": [0.585, 0.415],
            },
        ),
        ATTACK: column(
            "categorical",
            make_test("value", "jensen_shannon", 0.032, 0.04, 0.001, 0.009, "js_distance_bits"),
            missing_test(0.0, 0.0),
            q=quality(new=[EVIL_CATEGORY], new_share=0.01, dtype="string"),
            summary={"reference": {"n": 100_000}, "current": {"n": 5_000}},
            histogram={
                "type": "categorical",
                "categories": ["a", "b", EVIL_CATEGORY],
                "reference": [0.7, 0.3, 0.0],
                "current": [0.66, 0.33, 0.01],
            },
        ),
        "prompt": column(
            "text",
            make_test("value", "psi", 0.009, 0.01, 0.002, 0.014, "psi"),
            missing_test(0.0, 0.0),
            q=quality(below=0.0, above=0.004, dtype="string"),
            summary={
                "reference": {
                    "n": 100_000,
                    "mean_length": 120.0,
                    "empty_share": 0.0,
                    "json_share": 0.1,
                    "refusal_share": 0.02,
                },
                "current": {
                    "n": 5_000,
                    "mean_length": 126.2,
                    "empty_share": 0.001,
                    "json_share": 0.09,
                    "refusal_share": 0.035,
                },
            },
            histogram=numeric_histogram(len_ref, len_cur),
        ),
        "score": column(
            "numeric",
            make_test("value", "ks", 0.2, 0.04, 1e-90, 1e-88, "ks_d"),
            missing_test(0.0, 0.0),
            q=quality(below=0.0, above=0.01),
            summary=numeric_summary(score_ref, score_cur, (100_000, 5_000)),
            histogram=numeric_histogram(score_ref, score_cur),
            role="prediction",
        ),
    }
    n_drifted = sum(c["drifted"] for c in columns.values())
    return {
        "schema": "assay.drift/1",
        "assay_version": "0.3.0",
        "created_at": "2026-11-28T10:00:00Z",
        "reference": {"source": "train.parquet", "type": "table", "rows": 100_000, "profile_id": "3f2a9c0d81e4b7a6"},
        "current": {"source": "today.parquet", "type": "table", "rows": 5_000, "profile_id": None},
        "config": {
            "alpha": 0.05,
            "correction": "holm",
            "bins": 10,
            "fine_bins": 200,
            "methods": {"age": "psi"},
            "min_effect": {"psi": 0.01, "ks": 0.04},
            "refusal_phrases": ["I can't"],
            "seed": 0,
        },
        "drifted": n_drifted > 0,
        "n_columns": len(columns),
        "n_drifted": n_drifted,
        "drifted_share": n_drifted / len(columns),
        "columns": columns,
        "multivariate": {
            "method": "domain_classifier",
            "model": "HistGradientBoostingClassifier",
            "auc": 0.71,
            "ci_low": 0.70,
            "ci_high": 0.72,
            "se": 0.005,
            "p_value": 0.0,
            "confidence": 0.95,
            "threshold": 0.55,
            "drifted": True,
            "n_reference": 5_000,
            "n_current": 5_000,
            "folds": 5,
            "seed": 0,
            "top_columns": [
                {"column": "score", "importance": 0.21},
                {"column": "age", "importance": 0.12},
                {"column": ATTACK, "importance": 0.01},
            ],
            "notes": ["reference subsampled to 5,000 rows"],
        },
        "warnings": ["column 'broken': numeric (double) in the reference but text (string) in the current table"],
    }


# drifted first by severity (score 5.0, age 4.0, country 2.1), then the column that could not be compared (broken),
# then the rest by severity (prompt 0.9, the attack 0.8, income 0.3, flag 0.24), as in the terminal
ORDER = ["score", "age", "country", "broken", "prompt", ATTACK, "income", "flag"]
CHARTED = 7  # every column but "broken"
CHARTS = CHARTED + 2  # + the multivariate AUC and its top columns


def table_names(page: str) -> list[str]:
    start = page.index('<section class="card" id="columns">')
    table = page[start : page.index("</table>", start)]
    return [n for n in re.findall(r'<td class="name"><a href="#col-\d+"><code>(.*?)</code></a>', table)]


def cards(page: str) -> list[tuple[str, str]]:
    """(escaped column name, card markup) for every column card, in page order."""
    found = re.findall(r'(<section class="card column" id="col-\d+"><h2><code>(.*?)</code>.*?</section>)', page, re.S)
    return [(name, markup) for markup, name in found]


def unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
    )


# --------------------------------------------------------------------------------------------------------------------
# the document and its schema


def test_document_validates_against_the_published_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(drift_doc(), SCHEMA, cls=jsonschema.Draft202012Validator)
    doc = drift_doc()
    doc["multivariate"] = None
    doc["columns"]["age"]["histogram"] = None
    doc["columns"]["age"]["summary"] = None
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), "assay.run/1"),
        (("columns", "age", "kind"), "float"),
        (("columns", "age", "role"), "target"),
        (("columns", "age", "status"), "fine"),
        (("columns", "age", "p_adjusted"), 1.5),
        (("columns", "age", "histogram", "type"), "kde"),
        (("multivariate", "auc"), "high"),
        (("config", "alpha"), 0),
    ],
)
def test_schema_rejects_malformed_documents(path: tuple[str, ...], value: object) -> None:
    doc = drift_doc()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_schema_requires_every_column_key() -> None:
    doc = drift_doc()
    del doc["columns"]["age"]["severity"]
    with pytest.raises(jsonschema.ValidationError, match="severity"):
        jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)


# --------------------------------------------------------------------------------------------------------------------
# the HTML string


def test_header_states_the_verdict_and_both_samples() -> None:
    page = render_drift(drift_doc())
    assert page.startswith("<!DOCTYPE html>")
    assert "drift detected" in page and "no drift detected" not in page
    assert "train.parquet" in page and "today.parquet" in page
    assert "100,000" in page and "5,000" in page
    assert ">3 <span" in page and "of 8</span>" in page  # 3 of 8 columns drifted
    assert "37.5% of the columns" in page
    assert "holm · α = 0.05" in page
    assert '<code title="3f2a9c0d81e4b7a6">3f2a9c0d81e4</code>' in page  # short profile id, the full one on hover


def test_verdict_without_drift() -> None:
    doc = drift_doc()
    doc.update(drifted=False, n_drifted=0, drifted_share=0.0, multivariate=None)
    page = render_drift(doc)
    assert "no drift detected" in page
    assert 'id="multivariate"' not in page


def test_rows_and_cards_are_ordered_by_severity_drifted_first() -> None:
    page = render_drift(drift_doc())
    assert [unescape(n) for n in table_names(page)] == ORDER
    assert [unescape(name) for name, _ in cards(page)] == ORDER
    worst = re.findall(r'<tr class=worst><td class="name"><a href="#col-\d+"><code>(\w+)</code>', page)
    assert worst == ["score", "age", "country"]


def test_one_chart_per_charted_column() -> None:
    page = render_drift(drift_doc())
    assert page.count('<svg class="chart"') == CHARTS
    assert f'data-assay-charts-expected="{CHARTS}"' in page
    found = cards(page)
    assert len(found) == len(ORDER)
    for name, markup in found:
        expected = 0 if name == "broken" else 1
        assert markup.count('<svg class="chart"') == expected, name
    broken = dict(found)["broken"]
    assert '<div class="status-box"><b>type mismatch</b>: numeric (double) in the reference' in broken
    assert "Type changed: <code>double</code> → <code>string</code>" in broken
    numeric = dict(found)["age"]
    assert numeric.count('class="bin"') == 10  # ten quantile bins, each with its tooltip
    assert 'class="outside"' in numeric  # below/above panels
    assert dict(found)["country"].count('class="row"') == 5  # one row of paired bars per category


def test_table_cells() -> None:
    page = render_drift(drift_doc())
    start = page.index('<section class="card" id="columns">')
    table = page[start : page.index("</table>", start)]
    age = table[table.index("<code>age</code>") :]
    age = age[: age.index("</tr>")]
    assert '<span title="psi">0.03800</span><span class="sub">threshold 0.01</span>' in age  # effect, threshold
    assert "2.000e-29" in age  # p adjusted
    assert "0.0% → 20.0%" in age  # missing ref → cur
    assert "3.1%" in age and "↓0.1% · ↑3.0%" in age  # out of range
    country = table[table.index("<code>country</code>") :]
    country = country[: country.index("</tr>")]
    assert '<span title="FR">1</span>' in country and ">10.0%</span>" in country
    assert '<span class="badge muted">prediction</span>' in table


def test_summary_tests_quality_and_multivariate() -> None:
    page = render_drift(drift_doc())
    prompt = dict(cards(page))["prompt"]
    assert "mean length" in prompt and "126.2" in prompt and "refusals" in prompt and "+1.5 pts" in prompt
    assert "<th>Test</th>" in prompt and "missing_rate" in prompt
    age = dict(cards(page))["age"]
    assert "standard deviation" in age and "Missing: 0.0% of reference rows, 20.0% of current rows." in age
    country = dict(cards(page))["country"]
    assert "categories not seen" not in country and "1 category not seen in the reference" in country
    assert "1 reference category absent from the current values: <code>AT</code>" in country
    start = page.index('<section class="card" id="multivariate">')
    section = page[start : page.index("</section>", start)]
    assert "0.7100 [0.7000, 0.7200]" in section and "95% interval" in section
    assert section.count('<svg class="chart"') == 2
    assert "HistGradientBoostingClassifier" in section and "reference subsampled" in section


def test_warnings_are_listed() -> None:
    page = render_drift(drift_doc())
    assert (
        '<section class="card" id="warnings"><h2>Warnings</h2><ul class="warnings"><li>column &#x27;broken&#x27;'
        in (page)
    )
    assert page.index('id="warnings"') < page.index('id="columns"')


def test_user_strings_are_escaped() -> None:
    doc = drift_doc()
    doc["warnings"].append(ATTACK)
    doc["reference"]["source"] = '</title><script>alert("src")</script>'
    doc["config"]["methods"] = {ATTACK: "ks"}
    page = render_drift(doc)
    assert "<script>document" not in page and "<script>alert" not in page and "<img" not in page
    assert page.count("<script>") == 2  # the report's own two
    assert "&lt;script&gt;document.body.dataset.pwned = &quot;1&quot;&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_self_contained() -> None:
    page = render_drift(drift_doc())
    assert "http://" not in page and "https://" not in page
    assert re.search(r"\b(src|href)=\"(?!#)", page) is None  # only in-page anchors
    assert re.search(r"\bnan\b", page, re.IGNORECASE) is None
    assert len(page.encode()) < 300_000


def test_lenient_with_missing_parts() -> None:
    """A minimal document (no multivariate, no histograms, no summaries, no warnings) still renders."""
    doc = drift_doc()
    doc["multivariate"] = None
    doc["warnings"] = []
    for entry in doc["columns"].values():
        entry["histogram"] = None
        entry["summary"] = None
    page = render_drift(doc)
    assert '<svg class="chart"' not in page and 'data-assay-charts-expected="0"' in page
    assert 'id="warnings"' not in page and 'id="multivariate"' not in page
    assert "The document holds no histogram for this column." in page
    empty = render_drift({"schema": "assay.drift/1"})
    assert "The document has no columns." in empty and "no drift detected" in empty


def test_rejects_a_document_of_another_schema() -> None:
    doc = drift_doc()
    doc["schema"] = "assay.run/1"
    with pytest.raises(InputError, match=r"field 'schema'.*expected 'assay.drift/1', found 'assay.run/1'"):
        render_drift(doc)
    with pytest.raises(InputError, match="expected a mapping"):
        render_drift([])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------------------
# the charts


def heights(chart: str, fill: str) -> list[float]:
    return [float(h) for h in re.findall(rf'<rect [^>]*height="([\d.]+)" fill="{fill}"', chart)]


def test_histogram_draws_densities_over_unequal_bins() -> None:
    """Equal shares in a narrow and a wide bin: the narrow bin is twice as high, as a histogram must be."""
    chart = svg.overlaid_histogram([0, 1, 3], [0.5, 0.5], [0.5, 0.5], label="x", x_label="value")
    first, second = heights(chart, "#94a3b8")
    assert first == pytest.approx(2 * second, rel=0.01)
    assert 'class="outside"' not in chart  # nothing outside the range: no side panels
    assert "reference" in chart and "current" in chart  # the legend


def test_histogram_with_bad_edges_falls_back_to_bars() -> None:
    chart = svg.overlaid_histogram([0, 0, 1], [0.5, 0.5], [0.4, 0.6], label="x", x_label="value")
    assert chart.count('class="row"') == 2 and "50.0% → 40.0%" in chart


def test_long_category_lists_are_capped() -> None:
    doc = drift_doc()
    hist = doc["columns"]["country"]["histogram"]
    hist["categories"] = [f"c{i}" for i in range(100)]
    hist["reference"] = hist["current"] = [0.01] * 100
    country = dict(cards(render_drift(doc)))["country"]
    assert country.count('class="row"') == 40 and "The first 40 of 100 categories are drawn." in country


# --------------------------------------------------------------------------------------------------------------------
# in a real browser


def test_renders_in_chromium_without_console_errors(tmp_path: Path) -> None:
    """Loaded in Chromium: the self-check passes, every chart has a box, the attack does not run, and the console is
    silent (Chromium logs script errors and loads blocked by the Content-Security-Policy there)."""
    page = tmp_path / "drift.html"
    write_html(page, render_drift(drift_doc()))
    result = browse(page, tmp_path / "profile", "--dump-dom", "--enable-logging=stderr", "--v=0")
    assert result.returncode == 0, result.stderr[-2000:]
    body = Body()
    body.feed(result.stdout)
    assert body.attrs.get("data-assay-status") == "ok", body.attrs
    assert "data-assay-errors" not in body.attrs and "data-pwned" not in body.attrs
    assert body.attrs.get("data-assay-charts") == str(CHARTS)
    assert body.charts == CHARTS
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert console == [], console
