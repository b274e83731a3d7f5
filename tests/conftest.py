"""Shared fixtures: the real stack, started once per session, and an isolated namespace.

Integration tests get their own topics (`<ns>.scm.*`) and their own PostgreSQL database
(`supplyflow_<ns>`) on the shared local stack, so they never touch a user's demo data and
can run again without cleanup.
"""

from __future__ import annotations

import os
import uuid
import warnings

import pytest

from supplyflow import config


@pytest.fixture(scope="session")
def base_settings() -> config.Settings:
    """The settings of the user's local stack (environment variables applied)."""
    return config.settings()


@pytest.fixture(scope="session")
def stack(base_settings: config.Settings) -> config.Settings:
    """Start (or reuse) the local Kafka and PostgreSQL; the suite's topics and tables exist."""
    from supplyflow import stack as stack_mod

    stack_mod.up(base_settings)
    return base_settings


@pytest.fixture(scope="session")
def namespaces(stack: config.Settings):
    """A factory of throw-away namespaces: own topics, own database, migrated."""
    from supplyflow.stack import create_namespace, drop_namespace

    made: list[config.Settings] = []

    def make() -> config.Settings:
        made.append(create_namespace(stack, f"t{uuid.uuid4().hex[:8]}"))
        return made[-1]

    yield make
    if not os.environ.get("SUPPLYFLOW_KEEP_TEST_DATA"):
        for settings in made:
            try:
                drop_namespace(stack, settings)
            except Exception as exc:  # cleanup only: what the tests asserted stands
                warnings.warn(f"namespace {settings.namespace} not removed: {exc}", stacklevel=1)


@pytest.fixture(scope="module")
def ns_settings(namespaces) -> config.Settings:
    """Settings of a namespace of this test module's own."""
    return namespaces()
