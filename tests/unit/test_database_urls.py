"""Which database URLs spo takes, and the one PostgreSQL driver it reaches them through."""

from __future__ import annotations

import pytest

from spo_tracker.core.errors import InvalidInput
from spo_tracker.store.schema import backend, engine_url, libpq_url, resolve_url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://spo@db.example:5432/spo?sslmode=verify-full",
        "postgresql+psycopg2://spo@db.example:5432/spo?sslmode=verify-full",
        # the form spo's first releases documented: an operator's env file keeps working
        "postgresql+psycopg://spo@db.example:5432/spo?sslmode=verify-full",
        "postgres://spo@db.example:5432/spo?sslmode=verify-full",
    ],
)
def test_every_postgresql_form_reaches_the_server_through_psycopg2(url: str) -> None:
    assert backend(url) == "postgresql"
    assert resolve_url(url) == url
    assert engine_url(url) == "postgresql+psycopg2://spo@db.example:5432/spo?sslmode=verify-full"
    assert libpq_url(url) == "postgresql://spo@db.example:5432/spo?sslmode=verify-full"


def test_a_password_in_the_url_survives_for_the_engine() -> None:
    url = "postgresql://spo:s%40cret@db.example/spo"
    assert engine_url(url) == "postgresql+psycopg2://spo:s%40cret@db.example/spo"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql+asyncpg://spo@db.example/spo", "names the driver 'asyncpg'"),
        ("postgresql+pg8000://spo@db.example/spo", "names the driver 'pg8000'"),
        ("mysql://spo@db.example/spo", "is not a database URL spo can use"),
        ("sqlite+aiosqlite:////tmp/spo.db", "is not a database URL spo can use"),
    ],
)
def test_a_url_spo_cannot_use_is_refused_naming_the_option(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        resolve_url(url)
    assert refused.value.field == "--db"
    assert reason in str(refused.value)
    assert "postgresql://USER@HOST/DB" in str(refused.value)


@pytest.mark.parametrize("url", ["sqlite:////tmp/spo.db", "sqlite+pysqlite:////tmp/spo.db"])
def test_sqlite_urls_are_left_as_they_are(url: str) -> None:
    assert backend(url) == "sqlite"
    assert engine_url(url) == url
