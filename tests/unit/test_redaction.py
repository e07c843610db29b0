"""ledger.redaction: no password of a database URL reaches a message, however malformed the URL."""
from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from ledger.redaction import describe_failure, redact, url_secrets

#: the three URL shapes the driver quotes (part of) the raw password back for
MALFORMED = [
    "postgresql://ledger:SECRET%ZZPW@127.0.0.1:5432/x",  # not percent-decodable
    "postgresql://ledger:SEC RETPW@127.0.0.1:5432/ledger_test",  # a space
    "postgresql://ledger:SECRET@PW@127.0.0.1:5432/ledger_test",  # several '@': libpq's host is 'PW@127.0.0.1'
]
#: a '#', '/' or '?' in the password (the driver reads them without quoting them back)
SPECIAL = [
    "postgresql://ledger:SECRET#PW@127.0.0.1:5432/ledger_test",
    "postgresql://ledger:SECRET/PW@127.0.0.1:5432/ledger_test",
    "postgresql://ledger:SECRET?PW@127.0.0.1:5432/ledger_test",
]


def no_password(text: str) -> None:
    for part in ("SECRET", "RETPW", "PW@"):
        assert part not in text, text


def driver_error(url: str) -> psycopg.Error:
    """What psycopg raises for ``url``: the parser's error, or (for the host libpq reads) the resolver's."""
    try:
        parsed = conninfo_to_dict(url)
    except psycopg.Error as error:
        return error
    return psycopg.OperationalError(f"failed to resolve host {parsed['host']!r}: [Errno -2] Name or service not known")


@pytest.mark.parametrize("url", MALFORMED + SPECIAL)
def test_the_url_shape_hides_the_password_up_to_the_last_at_before_the_host(url: str) -> None:
    shown = redact(f"cannot open the ledger at {url}: failed")
    no_password(shown)
    assert "postgresql://ledger:***@127.0.0.1:5432/" in shown


@pytest.mark.parametrize("url", MALFORMED)
def test_the_driver_quoting_the_password_back_is_redacted(url: str) -> None:
    error = driver_error(url)
    assert any(part in str(error) for part in ("SECRET", "RETPW", "PW@"))  # what the driver says
    line = describe_failure(error, url)
    no_password(line)
    assert "***" in line


def test_the_password_percent_decoded_is_redacted_too() -> None:
    url = "postgresql://ledger:SEC%52ETPW@db/x"
    assert set(url_secrets(url)) == {"SEC%52ETPW", "SECRETPW"}
    no_password(redact('password "SECRETPW" was refused', url))
    no_password(redact('password "SEC%52ETPW" was refused', url))


def test_the_fragments_of_a_password_with_several_at_are_redacted() -> None:
    url = "postgresql://ledger:SECRET@PW@127.0.0.1:5432/ledger_test"
    assert url_secrets(url) == ["SECRET@PW", "SECRET", "PW"]
    assert redact("failed to resolve host 'PW@127.0.0.1'", url) == "failed to resolve host '***@127.0.0.1'"


@pytest.mark.parametrize(
    "url",
    ["postgresql://ledger@db/x", "postgresql://db/x?user=a@b", "sqlite:///var/demo.db", "postgresql://db:5432/x", None],
)
def test_a_url_without_a_password_takes_nothing_out(url: str | None) -> None:
    assert url_secrets(url) == []
    assert redact("the ledger at db is locked", url) == "the ledger at db is locked"


def test_a_message_naming_two_urls_keeps_the_second_one_s_host() -> None:
    shown = redact("from postgresql://a:SECRET@h1/x to postgresql://b:PASS WORD@h2/y")
    assert shown == "from postgresql://a:***@h1/x to postgresql://b:***@h2/y"


def test_two_urls_in_one_message_keep_their_hosts() -> None:
    shown = redact("copy postgresql://a:p1@h1/db to postgresql://b:p2@h2:5432/db")
    assert shown == "copy postgresql://a:***@h1/db to postgresql://b:***@h2:5432/db"
