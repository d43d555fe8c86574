"""Alembic environment: the app's engine, SQLModel's metadata, batch mode for SQLite."""

from alembic import context
from sqlmodel import SQLModel

import referral.models  # noqa: F401  (every table, for autogenerate)
from referral import db

target_metadata = SQLModel.metadata


def run_migrations_online():
    with db.engine().connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode copies tables; with foreign keys on, dropping the old copy could
            # cascade. The pragma only works outside a transaction, so set it on the driver.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "sqlite":
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported: run them against a database.")
run_migrations_online()
