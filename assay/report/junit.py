"""JUnit XML, the test-report format CI systems read: one suite of cases that passed, failed or were skipped.

>>> xml = junit("assay drift", [JUnitCase("assay.drift.numeric", "age", "failure", "moved", "psi 0.2")])
>>> 'tests="1" failures="1" skipped="0"' in xml
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

__all__ = ["JUnitCase", "junit"]


@dataclass(frozen=True)
class JUnitCase:
    """One case: ``outcome`` is ``"pass"``, ``"failure"`` or ``"skipped"``; ``message`` says why it failed or was
    skipped, ``text`` holds the details (written as the case's output when it passed)."""

    classname: str
    name: str
    outcome: Literal["pass", "failure", "skipped"]
    message: str
    text: str


def junit(suite_name: str, cases: Sequence[JUnitCase]) -> str:
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)),
                       failures=str(sum(c.outcome == "failure" for c in cases)),
                       skipped=str(sum(c.outcome == "skipped" for c in cases)))
    for c in cases:
        case = ET.SubElement(suite, "testcase", classname=c.classname, name=c.name)
        if c.outcome == "pass":
            ET.SubElement(case, "system-out").text = c.text
        else:
            ET.SubElement(case, c.outcome, message=c.message).text = c.text
    suites = ET.Element("testsuites")
    suites.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
