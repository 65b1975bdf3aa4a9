"""Secrets never shown: masked in logs, provider errors and reports, by the names that mark them."""

from __future__ import annotations

import io
import logging

import requests

from dnssync.commands.base import Redacting
from dnssync.model import secrets
from dnssync.providers.hints import describe_error


def test_secret_masked_in_logs_including_decoded_form():
    secret = "c3VwZXItc2VjcmV0LXRzaWc="  # base64 of super-secret-tsig
    secrets.register(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(secrets.RedactingFilter())
    log = logging.getLogger("test-plugin")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.debug("key_secret=%s raw=%r", secret, b"super-secret-tsig")
    log.removeHandler(handler)
    assert secret not in stream.getvalue() and "super-secret-tsig" not in stream.getvalue()
    assert secrets.MASK in stream.getvalue()


def test_secret_with_a_trailing_newline_is_masked_in_provider_errors():
    """A CI variable or secret file often ends in a newline; requests then refuses the
    header and echoes the value in its error."""


    secrets.register("s3cretKEY-1234\n")
    error = requests.exceptions.InvalidHeader("Invalid leading whitespace, reserved character(s), or return"
                                              " character(s) in header value: 's3cretKEY-1234\\n'")
    assert "s3cretKEY-1234" not in describe_error(error)


def test_secret_option_names():
    for key in ("api_key", "key_secret", "password", "token", "private_key", "consumer_key", "auth_key",
                "client_secret", "credentials"):
        assert secrets.is_secret_key(key), key
    for key in ("key_name", "key_algorithm", "host", "port", "access_key_id"):
        assert not secrets.is_secret_key(key), key


def test_text_output_masks_secrets():
    """Reports print through Context.out: whatever a provider's error text carries, a
    registered secret never reaches the terminal."""


    secrets.register("hunter2-very-secret")
    buffer = io.StringIO()
    Redacting(buffer).write("provider said: bad key hunter2-very-secret\n")
    assert "hunter2" not in buffer.getvalue() and secrets.MASK in buffer.getvalue()
