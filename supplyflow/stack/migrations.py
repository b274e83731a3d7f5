"""Applies the PostgreSQL migrations in sql/postgres/ (V<NNN>__name.sql) once each."""

from __future__ import annotations

import re

from supplyflow import config

MIGRATIONS_DIR = config.ROOT / "sql" / "postgres"
_NAME = re.compile(r"^V(\d+)__[\w-]+\.sql$")


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, sql) for every migration, in version order."""
    found = []
    for path in MIGRATIONS_DIR.glob("V*.sql"):
        m = _NAME.match(path.name)
        if m:
            found.append((int(m.group(1)), path.name, path.read_text()))
    return sorted(found)


def migrate(settings: config.Settings) -> list[str]:
    """Apply pending migrations in one transaction each; returns the files applied."""
    import psycopg

    applied: list[str] = []
    with psycopg.connect(**settings.pg_conninfo(), connect_timeout=5) as conn:
        conn.execute(f"create schema if not exists {config.PG_SCHEMA}")
        conn.execute(
            f"create table if not exists {config.PG_SCHEMA}.schema_migrations"
            " (version int primary key, name text not null, applied_at timestamptz not null default now())"
        )
        conn.commit()
        done = {row[0] for row in conn.execute(f"select version from {config.PG_SCHEMA}.schema_migrations")}
        for version, name, sql in migration_files():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    f"insert into {config.PG_SCHEMA}.schema_migrations (version, name) values (%s, %s)",
                    (version, name),
                )
            applied.append(name)
    return applied
