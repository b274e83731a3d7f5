"""`supplyflow submit JOB|all`: run jobs on a Flink cluster with `flink run`.

Uses the `flink` CLI of the PyFlink installation with jobs/cluster_entry.py as the
program, this virtualenv's interpreter for the client and the workers (`-pyclientexec`,
`-pyexec`), and the connector jars in `pipeline.jars` of a client configuration generated
from flink-conf/ (`<data_dir>/flink/submit-conf`). Bounded runs go one job after the other
(the edge first) and wait for each; unbounded runs are submitted detached.
"""

from __future__ import annotations

import subprocess
import sys

from supplyflow import config, flinkconf, runner
from supplyflow.errors import SupplyflowError


def command(name: str, jobmanager: str, bounded: bool, parallelism: int, savepoint: str | None) -> list[str]:
    """The `flink run` command line for job `name`."""
    cmd = ["bash", str(flinkconf.pyflink_home() / "bin" / "flink"), "run", "-m", jobmanager,
           "-p", str(parallelism), "-pyexec", sys.executable, "-pyclientexec", sys.executable]
    if savepoint:
        cmd += ["-s", savepoint]
    if not bounded:
        cmd.append("-d")
    cmd += ["-py", str(config.ROOT / "jobs" / "cluster_entry.py"), name]
    return cmd + (["--bounded"] if bounded else [])


def main(names: list[str], settings: config.Settings, jobmanager: str, bounded: bool, parallelism: int = 1,
         savepoint: str | None = None) -> int:
    """Submit each job; returns the exit code."""
    for name in names:
        runner.job_module(name)  # an unknown name fails here, with the list of jobs
    if savepoint and len(names) != 1:
        raise SupplyflowError("--from-savepoint restores one job: name it instead of `all`")
    env = runner.flink_client_environment(settings)
    for name in names:
        print(f"== submitting {name} to {jobmanager} ({'bounded' if bounded else 'unbounded'}, "
              f"parallelism {parallelism})", flush=True)
        out = subprocess.run(command(name, jobmanager, bounded, parallelism, savepoint), env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            lines = [ln for ln in (out.stderr + out.stdout).splitlines() if ln.strip()]
            cause = next((ln for ln in reversed(lines) if "Caused by" in ln or "Exception" in ln), lines[-1:] or [""])
            raise SupplyflowError(f"flink run {name} failed: {str(cause).strip()[:300]} "
                                  f"(is a cluster running at {jobmanager}? `supplyflow stack up --flink-cluster`)")
        for line in out.stdout.splitlines():
            if line.startswith(("submitted ", f"{name} finished", "Job has been submitted")):
                print(f"  {line}", flush=True)
    return 0
