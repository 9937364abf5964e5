"""Alembic environment: runs on the engine handed over by ``tscrm.core.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from tscrm.core.models import load_all_models
from tscrm.core.types import StrEnumType

load_all_models()

config = context.config
target_metadata = SQLModel.metadata


def render_item(type_: str, obj: object, autogen_context) -> str | bool:
    # Enums are plain VARCHARs in the schema; our other types are named by their module.
    if type_ == "type" and isinstance(obj, StrEnumType):
        return f"sa.String(length={obj.impl.length})"
    return False


def run_migrations() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
