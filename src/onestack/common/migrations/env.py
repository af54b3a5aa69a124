"""Alembic environment: runs against the engine handed over in ``config.attributes``."""

from alembic import context

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=None,
        render_as_batch=engine.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
