"""moto's server: a real HTTP server speaking Route53's API, on loopback.

There is no Route53 on this machine, and no test may reach AWS. moto (a PyPI
package, `moto[server]`) is the existing emulator the standards allow for a
service that cannot run here: it is started as its own process by the test
harness on `{net}.1` (a free port), and stopped by the pid that was started.
Its state lives in that process, so a stop is a real outage and a start is an
empty Route53.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

NET = os.environ.get("DNSSYNC_LAB_NET", "127.0.0")
#: credentials moto accepts; they are still given to dnssync only as env/ secrets
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIDDNSSYNCTEST", "AWS_SECRET_ACCESS_KEY": "dnssync-moto-secret-key"}


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class MotoServer:
    """`python -m moto.server` on `address`, started and stopped by its pid."""

    def __init__(self, workdir: Path, address: str = f"{NET}.1", port: int | None = None):
        from tests.lab.servers import ensure_address

        ensure_address(address)
        self.address = address
        self.port = port or free_port(address)
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> MotoServer:
        import pytest

        pytest.importorskip("moto.server", reason="moto[server] is in the [test] extra")
        pytest.importorskip("boto3", reason="boto3 is in the [test] extra")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "moto.log", "ab")  # noqa: SIM115 (kept open for the process)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.address, "-p", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MOTO_CALL_RESET_API": "false"})
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited: see {self.workdir / 'moto.log'}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto's server did not listen on {self.url} within 30 s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, url: str | None = None):
        """A boto3 Route53 client of moto's (the out-of-band hand of a test). boto3 is
        imported here, not at module level, so that a run without the `[test]` extra
        collects (conftest imports this module) and skips the Route53 tests."""
        import boto3

        return boto3.Session(aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                             aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"]).client(
            "route53", endpoint_url=url or self.url, region_name="us-east-1")

    def provider_file(self, url: str | None = None, **extra: object) -> dict:
        """providers/route53.yaml for this server: credentials only as env/ secrets. moto
        takes seconds for one 1,000-change request to a 10,000-record zone (3.3 s seen on a
        loaded lab), where Route53 answers in well under one: botocore's own 60 s timeout,
        not the provider's 10 s, so a slow machine's emulator is not taken for silence."""
        return {"class": "route53", "access_key_id": "env/AWS_ACCESS_KEY_ID",
                "secret_access_key": "env/AWS_SECRET_ACCESS_KEY", "endpoint_url": url or self.url,
                "nameservers": "auto", "timeout": 60, **extra}
