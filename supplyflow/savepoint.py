"""`supplyflow savepoint JOB`: stop a job running on a Flink cluster with a savepoint.

Finds the running job by its name (`supplyflow-<job>[-<namespace>]`) through the
cluster's REST API, stops it with a savepoint (POST /jobs/:id/stop, so the Kafka sinks
commit their last transaction and nothing is emitted twice after a restore), waits for the
savepoint and prints its path — the argument of `supplyflow submit JOB --from-savepoint`.
"""

from __future__ import annotations

import time

from supplyflow import config, runner
from supplyflow.errors import SupplyflowError


def _rest(jobmanager: str, path: str, body: dict | None = None) -> dict:
    from supplyflow.stack.flink_cluster import rest

    try:
        return rest(jobmanager, path, body)
    except OSError as exc:
        raise SupplyflowError(f"no Flink cluster answers at {jobmanager} ({exc}): start one with "
                              f"`supplyflow stack up --flink-cluster` or pass --jobmanager HOST:PORT") from None


def running_job_id(jobmanager: str, name: str, settings: config.Settings) -> str:
    """The id of the RUNNING job of supplyflow job `name` on the cluster."""
    wanted = runner.job_name(name, settings)
    jobs = _rest(jobmanager, "/jobs/overview").get("jobs", [])
    running = [j["jid"] for j in jobs if j.get("name") == wanted and j.get("state") == "RUNNING"]
    if not running:
        states = ", ".join(f"{j['name']} {j['state']}" for j in jobs) or "no jobs"
        raise SupplyflowError(f"no running job named {wanted} at {jobmanager} ({states}): submit it with "
                              f"`supplyflow submit {name}`")
    return running[0]


def stop_with_savepoint(jobmanager: str, name: str, settings: config.Settings, timeout_s: float = 300) -> str:
    """Stop job `name` with a savepoint; returns the savepoint's path."""
    runner.job_module(name)
    job_id = running_job_id(jobmanager, name, settings)
    target = str(settings.data_dir / "flink" / "savepoints")
    trigger = _rest(jobmanager, f"/jobs/{job_id}/stop", {"targetDirectory": target, "drain": False})["request-id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = _rest(jobmanager, f"/jobs/{job_id}/savepoints/{trigger}")
        if status.get("status", {}).get("id") == "COMPLETED":
            operation = status.get("operation", {})
            if "location" in operation:
                return operation["location"]
            cause = operation.get("failure-cause", {}).get("stack-trace", "unknown").splitlines()[0]
            raise SupplyflowError(f"the savepoint of {name} failed: {cause}")
        time.sleep(0.5)  # polling the REST API for the savepoint's completion
    raise SupplyflowError(f"the savepoint of {name} did not complete within {timeout_s:.0f}s: see the JobManager log")


def main(name: str, settings: config.Settings, jobmanager: str) -> int:
    path = stop_with_savepoint(jobmanager, name, settings)
    print(f"{name} stopped with a savepoint: {path}")
    print(f"resume it with: supplyflow submit {name} --from-savepoint {path} [--parallelism N]")
    return 0
