"""applying/apply.py without a server: which failures apply retries. The lab tests
(test_applying_lab.py, test_applying_http_lab.py, test_applying_truth_lab.py,
test_applying_interrupt_lab.py) show retries, isolation and read-back against real servers."""

from __future__ import annotations

import dns.exception
import pytest
import requests

from dnssync.model.errors import DnssyncException, UsageError
from dnssync.model.interrupt import Interrupted
from dnssync.providers.hints import is_transient
from dnssync.providers.refused import Refused
from dnssync.providers.rfc2136 import Rfc2136Error
from dnssync.providers.route53 import Route53Error


class Flaky(DnssyncException):
    """An error class that says, for all its instances, that a retry may help."""

    transient = True


def http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"HTTP {status}", response=response)


@pytest.mark.parametrize("error, transient", [
    # dnssync's own errors say so themselves
    (Rfc2136Error("SERVFAIL", transient=True), True),
    (Rfc2136Error("REFUSED"), False),
    (Refused("ns1", [("create mx MX", "REFUSED")], 8, 9), False),
    (Route53Error("Throttling", transient=True), True),
    (Route53Error("InvalidChangeBatch"), False),
    (UsageError("bad input"), False),
    (Interrupted(), False),
    (Flaky("try again"), True),
    # other libraries' exceptions, translated
    (requests.ConnectionError("refused"), True),
    (requests.Timeout("slow"), True),
    (requests.exceptions.InvalidHeader("bad header value"), False),
    (requests.exceptions.MissingSchema("no scheme"), False),
    (http_error(503), True),
    (http_error(429), True),
    (http_error(422), False),
    (dns.exception.Timeout(), True),
    (ConnectionResetError(), True),
    (EOFError(), True),
    (ValueError("a bug"), False),
])
def test_transient_or_not(error: BaseException, transient: bool):
    assert is_transient(error) is transient
