"""Alembic environment: runs on the connection spo hands over, or on the configured URL."""

from alembic import context
from sqlmodel import SQLModel

from spo_tracker.store import models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata


def run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    # Run from the alembic CLI: `alembic -x db=PATH|URL ...` (else SPO_DB, else the default).
    from spo_tracker.store.db import make_engine
    from spo_tracker.store.schema import resolve_url

    url = config.get_main_option("sqlalchemy.url") or resolve_url(
        context.get_x_argument(as_dictionary=True).get("db")
    )
    with make_engine(url, create_dir=True).connect() as conn:
        run(conn)
