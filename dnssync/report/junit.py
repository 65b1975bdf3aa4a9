"""JUnit XML, the test-report format CI systems show per test case.

One test suite per zone; one test case per thing that was checked (each
provider's nameserver address, each provider as a whole, the zone across
providers). An error finding fails its case; warnings and infos go to the
case's system-out, so a CI report shows every finding without failing on
warnings.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from dnssync.model.findings import Finding, Severity, has_errors
from dnssync.model.plan import Plan
from dnssync.report.values import value_lines

ZONE_CASE = "zone"


@dataclass
class Case:
    suite: str
    classname: str
    name: str
    findings: list[Finding] = field(default_factory=list)
    output: list[str] = field(default_factory=list)  # more lines for system-out


def _describe(finding: Finding) -> str:
    lines = [f"{finding.code}: {finding.message}"]
    lines += [f"  {label}: {value}" for label, value in value_lines(finding)]
    return "\n".join(lines)


def junit_xml(cases: list[Case], name: str = "dnssync") -> str:
    root = ET.Element("testsuites", name=name)
    suites: dict[str, list[Case]] = {}
    for case in cases:
        suites.setdefault(case.suite, []).append(case)
    total_failures = 0
    for suite_name, members in sorted(suites.items()):
        failures = sum(has_errors(c.findings) for c in members)
        total_failures += failures
        suite = ET.SubElement(root, "testsuite", name=suite_name, tests=str(len(members)),
                              failures=str(failures), errors="0", skipped="0")
        for case in members:
            element = ET.SubElement(suite, "testcase", classname=case.classname, name=case.name)
            errors = [f for f in case.findings if f.severity is Severity.ERROR]
            others = [f for f in case.findings if f.severity is not Severity.ERROR]
            if errors:
                failure = ET.SubElement(element, "failure", type=errors[0].code,
                                        message=f"{len(errors)} error finding(s); first:"
                                                f" {errors[0].message}")
                failure.text = "\n".join(_describe(f) for f in errors)
            if others or case.output:
                ET.SubElement(element, "system-out").text = "\n".join(
                    [f"{f.severity}: {_describe(f)}" for f in others] + case.output)
    root.set("tests", str(len(cases)))
    root.set("failures", str(total_failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


#: the case of a verify run's checks across providers (negative TTL, apex NS...)
AGREEMENT = "agreement between providers"


def verify_cases(findings: list[Finding], checked: list[tuple[str, str, str]],
                 provider_case: str | None = None, agreement: bool = True) -> list[Case]:
    """Cases for a verify run: every (zone, provider, nameserver) checked, plus a case
    per provider and per zone for the findings that belong to no one nameserver.

    `provider_case` names the case a provider's own findings go to (drift checks each
    provider as a whole: its checked cases are named so, and a drifted pair fails its
    own case); by default "<provider> (provider)". `agreement`: whether the run
    compared providers with each other, so that a passing case says they agree
    (drift does not; a finding of no provider still gets a case)."""
    cases: dict[tuple[str, str, str], Case] = {}

    def case(zone: str, provider: str, name: str) -> Case:
        key = (zone, provider, name)
        if key not in cases:
            cases[key] = Case(zone.rstrip(".") or ".", f"{zone.rstrip('.')}.{provider}", name)
        return cases[key]

    for zone, provider, nameserver in checked:
        case(zone, provider, nameserver)
    if agreement:
        for zone in {c[0] for c in checked}:
            case(zone, ZONE_CASE, AGREEMENT)
    for f in findings:
        zone = f.zone or "configuration"
        if f.provider and f.nameserver:
            case(zone, f.provider, f.nameserver).findings.append(f)
        elif f.provider:
            case(zone, f.provider, provider_case or f"{f.provider} (provider)").findings.append(f)
        else:
            case(zone, ZONE_CASE, AGREEMENT).findings.append(f)
    return list(cases.values())


def plan_cases(plan: Plan) -> list[Case]:
    """Cases for a plan: one per provider and zone, failed when the provider could not be
    read or a parity error concerns it; the changes apply would make go to system-out."""
    cases: dict[tuple[str, str], Case] = {}
    for pp in plan.providers:
        case = cases[(pp.zone, pp.provider)] = Case(pp.zone.rstrip(".") or ".", f"{pp.zone.rstrip('.')}.{pp.provider}",
                                                    f"plan {pp.provider}")
        if pp.error:
            case.findings.append(Finding(Severity.ERROR, "plan.provider-error", pp.error, zone=pp.zone,
                                         provider=pp.provider))
        case.output += [c.summary for c in (*pp.changes, *pp.keys)]
    for f in plan.findings:
        targets = [c for (zone, provider), c in cases.items()
                   if zone == f.zone and (not f.provider or provider in f.provider.split(","))]
        if not targets:  # a finding of no planned pair (e.g. a zone file warning)
            targets = [cases.setdefault((f.zone or "", "configuration"),
                                        Case((f.zone or "configuration").rstrip("."), "configuration", "validate"))]
        for case in targets:
            case.findings.append(f)
    return list(cases.values())


def validate_cases(findings: list[Finding], zones: list[str]) -> list[Case]:
    """Cases for `validate`: one per zone checked and one for the configuration, each
    failed by its error findings (a zone file's findings carry its zone)."""
    def case(zone: str) -> Case:
        if zone not in cases:
            cases[zone] = Case(zone.rstrip(".") or ".", zone.rstrip("."), "validate")
        return cases[zone]

    cases: dict[str, Case] = {}
    for zone in [*zones, "configuration"]:
        case(zone)
    for f in findings:
        case(f.zone or "configuration").findings.append(f)
    return list(cases.values())
