"""Runs jobs on the embedded Flink MiniCluster (`supplyflow run`).

Every job module in jobs/ exposes `build(t_env, settings, bounded) -> StatementSet`
(pure wiring of sources → rules → sinks) and this module gives it a configured
TableEnvironment, submits it and waits. `supplyflow submit` (a cluster) will call the
same `build` through the job's `main`.
"""

from __future__ import annotations

import importlib
import os
import re
from types import ModuleType

from supplyflow import config, flinkconf
from supplyflow.errors import SupplyflowError

# job name (CLI) -> module in jobs/
JOB_MODULES = {
    "edge": "jobs.edge",
    "shipment-matching": "jobs.shipment_matching",
    "eta-exceptions": "jobs.eta_exceptions",
    "inventory": "jobs.inventory",
    "reorder": "jobs.reorder",
    "core": "jobs.core",
}
# what `all` deploys: the edge, then the four stateful jobs as one (jobs/core.py)
ALL = ("edge", "core")
# jobs that are not part of the suite (`all`), submitted by `supplyflow bench`
EXTRA_MODULES = {
    "passthrough": "benchmarks.passthrough",
    "edge-floor": "benchmarks.edge_floor",
    "tables-sql": "benchmarks.tables_sql",
    "keyed-floor": "benchmarks.keyed_floor",
    "timer-floor": "benchmarks.timer_floor",
}


def job_module(name: str) -> ModuleType:
    """The module that implements job `name`."""
    if name in EXTRA_MODULES:
        return importlib.import_module(EXTRA_MODULES[name])
    if name not in JOB_MODULES:
        known = ", ".join(sorted(JOB_MODULES))
        planned = ", ".join(j for j in config.JOBS if j not in JOB_MODULES)
        raise SupplyflowError(f"unknown or not yet implemented job {name!r}: choose one of {known}"
                              + (f" (planned: {planned})" if planned else ""))
    return importlib.import_module(JOB_MODULES[name])


def python_path() -> str:
    """PYTHONPATH for Flink's Python workers: the project root (jobs/, udfs/, connectors/)
    and this virtualenv's site-packages, which thread mode's embedded interpreter (pemja,
    initialized from the base installation) would not otherwise see."""
    import sysconfig

    parts = [str(config.ROOT), sysconfig.get_paths()["purelib"], os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(dict.fromkeys(p for p in parts if p))


def prepare_environment(settings: config.Settings, overrides: dict[str, str] | None = None,
                        conf_name: str = "conf") -> dict[str, str]:
    """Point PyFlink's gateway JVM (or another Flink client) at our config (JVM flags,
    logging) before it starts; `conf_name` names the generated FLINK_CONF_DIR."""
    if not settings.flink_jars:
        missing = settings.jars_dir / "flink"
        raise SupplyflowError(f"Flink connector jars missing in {missing}: run `make jars` and retry")
    conf_dir = flinkconf.write_conf_dir(settings, overrides, conf_name)
    log_dir = settings.data_dir / "flink" / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FLINK_CONF_DIR"] = str(conf_dir)
    os.environ["FLINK_LOG_DIR"] = str(log_dir)
    # FLINK_HOME set, or PyFlink resets FLINK_LIB_DIR to the wheel's lib/
    os.environ["FLINK_HOME"] = str(flinkconf.pyflink_home())
    os.environ["FLINK_LIB_DIR"] = str(flinkconf.assemble_lib_dir(settings))
    os.environ["PYTHONPATH"] = python_path()
    return flinkconf.flink_config(settings, overrides)


# the embedded cluster's REST API takes a free port, leaving 8081 to a standalone
# cluster; its connectors are on the class path already (flinkconf.assemble_lib_dir)
EMBEDDED = {"rest.bind-port": "8082-8099", "pipeline.jars": ""}


def _configuration(conf: dict[str, str]):
    """A PyFlink Configuration of the non-empty options in `conf`."""
    from pyflink.common import Configuration

    flink_conf = Configuration()
    for key, value in conf.items():
        if value != "":
            flink_conf.set_string(key, value)
    return flink_conf


def flink_client_environment(settings: config.Settings) -> dict[str, str]:
    """Environment for the `flink` CLI of the wheel submitting to a cluster: its own
    generated conf dir (connector jars in pipeline.jars), our Python path, our settings."""
    prepare_environment(settings, conf_name="submit-conf")
    return dict(os.environ)


def table_env(settings: config.Settings, parallelism: int = 1, overrides: dict[str, str] | None = None):
    """A streaming TableEnvironment on the embedded MiniCluster, configured from flink-conf/."""
    flink_conf = _configuration(prepare_environment(settings, {**EMBEDDED, **(overrides or {})}))
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import EnvironmentSettings, StreamTableEnvironment

    flink_conf.set_string("parallelism.default", str(parallelism))
    # a StreamTableEnvironment, so jobs can mix SQL with DataStream process functions
    env = StreamExecutionEnvironment.get_execution_environment(flink_conf)
    env.set_parallelism(parallelism)
    env_settings = EnvironmentSettings.new_instance().in_streaming_mode().with_configuration(flink_conf).build()
    return StreamTableEnvironment.create(env, environment_settings=env_settings)


def batch_table_env(settings: config.Settings):
    """A batch TableEnvironment on the embedded MiniCluster with every SPEC topic (bounded)
    and table declared, as in `supplyflow sql` — for tools that query the outputs."""
    from pyflink.table import EnvironmentSettings, TableEnvironment

    from supplyflow import sql_client

    flink_conf = _configuration(prepare_environment(settings, EMBEDDED))
    t_env = TableEnvironment.create(EnvironmentSettings.new_instance().in_batch_mode()
                                    .with_configuration(flink_conf).build())
    for statement in sql_client.tables(settings, bounded=True):
        t_env.execute_sql(statement)
    return t_env


def query(t_env, sql: str) -> tuple[list[str], list[tuple]]:
    """Run a (bounded) query; returns its column names and rows."""
    table = t_env.sql_query(sql)
    columns = table.get_schema().get_field_names()
    with table.execute().collect() as rows:
        return columns, [tuple(row) for row in rows]


def job_name(name: str, settings: config.Settings) -> str:
    """The Flink job name of job `name` (metrics carry it as the job_name label)."""
    return f"supplyflow-{name}" + (f"-{settings.namespace}" if settings.namespace else "")


def job_overrides(name: str, settings: config.Settings) -> dict[str, str]:
    """Job-level options of job `name`: its own (`job_config`), its name, the idle timeout
    and the checkpoint interval."""
    overrides = dict(getattr(job_module(name), "job_config", lambda s: {})(settings))
    overrides["pipeline.name"] = job_name(name, settings)
    if settings.idle_timeout:
        overrides["table.exec.source.idle-timeout"] = settings.idle_timeout
    if settings.checkpoint_interval:
        overrides["execution.checkpointing.interval"] = settings.checkpoint_interval
    return overrides


def submit(name: str, settings: config.Settings, bounded: bool, parallelism: int = 1):
    """Build job `name` in a TableEnvironment of its own (its job-level options stay its
    own) and submit it; returns the TableResult."""
    module = job_module(name)
    t_env = table_env(settings, parallelism, job_overrides(name, settings))
    statements = module.build(t_env, settings, bounded=bounded)
    result = statements.execute()
    print(f"  submitted {name} ({'bounded' if bounded else 'unbounded'}, parallelism {parallelism})", flush=True)
    return result


_CHECKPOINT_LINE = re.compile(r"Completed checkpoint \d+ for job (?P<job>[0-9a-f]+) \((?P<bytes>\d+) bytes")


def last_checkpoint_bytes(settings: config.Settings, job_id: str) -> int | None:
    """The size of the job's last completed checkpoint, from the embedded cluster's log."""
    size = None
    for log in sorted((settings.data_dir / "flink" / "log").glob("flink-*-python-*.log")):
        with open(log, errors="replace") as f:
            for line in f:
                if "Completed checkpoint" in line:
                    m = _CHECKPOINT_LINE.search(line)
                    if m and m["job"] == job_id:
                        size = int(m["bytes"])
    return size


def run(names: list[str], settings: config.Settings, bounded: bool, parallelism: int = 1) -> None:
    """Run the named jobs on the embedded cluster and wait for them.

    Bounded runs go one job after another in the order given (the edge first), so each
    job reads its inputs complete; unbounded runs start together."""
    if bounded:
        for name in names:
            result = submit(name, settings, bounded, parallelism)
            result.wait()
            finished = getattr(job_module(name), "on_finished", None)
            if finished:
                finished(settings)
            size = last_checkpoint_bytes(settings, str(result.get_job_client().get_job_id()))
            state = f" (state in its last checkpoint: {size:,} bytes)" if size else ""
            print(f"  {name} finished{state}", flush=True)
        return
    results = [(name, submit(name, settings, bounded, parallelism)) for name in names]
    for _, result in results:
        result.wait()
