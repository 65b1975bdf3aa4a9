"""Shared fixtures: the real-server lab (started once per session, stopped by pid)
and throw-away dnssync repositories whose providers are the lab's servers."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dnssync.cli import main
from tests.lab import Lab
from tests.lab.moto import MotoServer
from tests.lab.parent import ParentServer

ROOT = Path(__file__).resolve().parent.parent

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """PowerDNS, BIND and Knot on 127.0.0.2/.3/.4:53, for the whole session."""
    with Lab(tmp_path_factory.mktemp("lab")) as running:
        yield running


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's server (Route53's API) on {net}.1, for the whole session, stopped by pid."""
    with MotoServer(tmp_path_factory.mktemp("moto")) as running:
        yield running


@pytest.fixture
def parent(lab: Lab) -> ParentServer:
    """The lab's parent zones' server (Knot holding `test.` on {net}.5): every lab zone
    is delegated there; `parent.delegate()` rewrites a delegation, right or broken."""
    return lab.parent


def unique_zone(prefix: str = "t") -> str:
    """A zone name no other test uses, so tests never see each other's records."""
    return f"{prefix}{next(_counter)}-{os.getpid()}.test."


@dataclass
class Repo:
    """A dnssync repository on disk and the environment (secrets) to run it in."""

    root: Path
    env: dict[str, str]

    def run(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(main, ["-c", str(self.root), *args], env=self.env, input=input,
                             catch_exceptions=False)

    def zone_file(self, zone: str) -> Path:
        return self.root / "zones" / f"{zone}yaml"


@pytest.fixture
def make_repo(tmp_path: Path, lab: Lab):
    """make_repo({zone: yaml_text}, providers=[...], config={...}) -> Repo; zones are
    created on the lab servers first (as an operator must for RFC 2136)."""

    def make(zones: dict[str, str], providers: list[str] | None = None, config: dict | None = None,
             create: bool = True, provider_extra: dict | None = None) -> Repo:
        if create:
            for zone in zones:
                lab.add_zone(zone, providers)
        root = tmp_path / f"repo{next(_counter)}"
        env = lab.write_repo(root, {f"{z}yaml": text for z, text in zones.items()}, providers, config,
                             provider_extra)
        return Repo(root, env)

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the lab is marked `lab` (`make test-unit` leaves them out)."""
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def junit_schema(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory):
    """The public JUnit XML schema (see tests/junit_schema.py), fetched once (kept in
    pytest's cache between runs when the cache is on)."""
    from tests.junit_schema import junit_schema as load

    cache = getattr(pytestconfig, "cache", None)
    folder = cache.mkdir("junit-schema") if cache is not None else tmp_path_factory.mktemp("junit-schema")
    return load(Path(str(folder)))
