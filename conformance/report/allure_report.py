"""Findings into Allure results: labels for navigation, evidence as (redacted) attachments.

allure.dynamic calls are no-ops when allure-pytest is not writing results (no --alluredir).
"""

from __future__ import annotations

import allure

from conformance.checks import Check
from conformance.model import Finding


def label_test(check: Check, host: str, phases: list[str]) -> None:
    allure.dynamic.epic(check.area_title)
    allure.dynamic.feature(check.title)
    allure.dynamic.story(check.id)
    allure.dynamic.severity(check.severity.value)
    allure.dynamic.parameter("host", host)
    allure.dynamic.parameter("conformance_target", f"{host}:{check.id}", mode=allure.parameter_mode.HIDDEN)
    # Phase tags come from the phase markers: allure-pytest turns pytest marks into tags itself.
    allure.dynamic.link(check.doc, name="Kolla libvirt guide")


def describe_test(check: Check, host: str) -> None:
    """Title and description (the check's page, markdown); allure-pytest overwrites both after setup, so this runs
    in the call phase. The guide's link is label_test's."""
    allure.dynamic.title(f"{check.id} on {host}")
    allure.dynamic.description(check.page)


def attach_finding(finding: Finding) -> None:
    for name, text in finding.evidence.items():
        allure.attach(text, name=name, attachment_type=allure.attachment_type.TEXT)
    allure.attach(finding.to_json(), name="finding", attachment_type=allure.attachment_type.JSON)
