"""Runs jobs on the embedded Flink MiniCluster (`supplyflow run`).

Every job module in jobs/ exposes `build(t_env, settings, bounded) -> StatementSet`
(pure wiring of sources → rules → sinks) and this module gives it a configured
TableEnvironment, submits it and waits. `supplyflow submit` (a cluster) will call the
same `build` through the job's `main`.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from supplyflow import config, flinkconf
from supplyflow.errors import SupplyflowError

# job name (CLI) -> module in jobs/
JOB_MODULES = {
    "smoke": "jobs.smoke",
}


def job_module(name: str) -> ModuleType:
    """The module that implements job `name`."""
    if name not in JOB_MODULES:
        known = ", ".join(sorted(JOB_MODULES))
        planned = ", ".join(j for j in config.JOBS if j not in JOB_MODULES)
        raise SupplyflowError(f"unknown or not yet implemented job {name!r}: choose one of {known} (planned: {planned})")
    return importlib.import_module(JOB_MODULES[name])


def python_path() -> str:
    """PYTHONPATH for Flink's Python workers: the project root (jobs/, udfs/, connectors/)
    and this virtualenv's site-packages, which thread mode's embedded interpreter (pemja,
    initialized from the base installation) would not otherwise see."""
    import sysconfig

    parts = [str(config.ROOT), sysconfig.get_paths()["purelib"], os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(dict.fromkeys(p for p in parts if p))


def prepare_environment(settings: config.Settings, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Point PyFlink's gateway JVM at our config (JVM flags, logging) before it starts."""
    if not settings.flink_jars:
        raise SupplyflowError(f"Flink connector jars missing in {settings.jars_dir / 'flink'}: run `make jars` and retry")
    conf_dir = flinkconf.write_conf_dir(settings, overrides)
    log_dir = settings.data_dir / "flink" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FLINK_CONF_DIR"] = str(conf_dir)
    os.environ["FLINK_LOG_DIR"] = str(log_dir)
    os.environ["PYTHONPATH"] = python_path()
    return flinkconf.flink_config(settings, overrides)


def table_env(settings: config.Settings, parallelism: int = 1, overrides: dict[str, str] | None = None):
    """A streaming TableEnvironment on the embedded MiniCluster, configured from flink-conf/."""
    conf = prepare_environment(settings, overrides)
    from pyflink.common import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    flink_conf = Configuration()
    for key, value in conf.items():
        flink_conf.set_string(key, value)
    flink_conf.set_string("parallelism.default", str(parallelism))
    env_settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(flink_conf).build()
    return TableEnvironment.create(env_settings)


def run(names: list[str], settings: config.Settings, bounded: bool, parallelism: int = 1) -> None:
    """Build every named job in one embedded cluster, submit them and wait for the end."""
    modules = [(name, job_module(name)) for name in names]
    t_env = table_env(settings, parallelism)
    results = []
    for name, module in modules:
        t_env.get_config().set("pipeline.name", f"supplyflow-{name}")
        statements = module.build(t_env, settings, bounded=bounded)
        results.append((name, statements.execute()))
        print(f"  submitted {name} ({'bounded' if bounded else 'unbounded'}, parallelism {parallelism})", flush=True)
    for name, result in results:
        result.wait()
        print(f"  {name} finished", flush=True)
