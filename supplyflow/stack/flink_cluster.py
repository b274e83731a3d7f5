"""A standalone Flink JobManager + TaskManager from the PyFlink wheel's distribution.

Configured from flink-conf/ (through supplyflow/flinkconf.py), REST on localhost:8081,
logs and pid files under <data_dir>/flink.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

from supplyflow import config, flinkconf, procs
from supplyflow.errors import SupplyflowError
from supplyflow.runner import python_path

REST_PORT = 8081
TASKMANAGERS = 3  # one embedded Python interpreter (and GIL) each, see flink-conf/config.yaml
ENDED_STATES = ("CANCELED", "FINISHED", "FAILED")  # a Flink job in these is gone for good


def rest(address: str, path: str, body: dict | None = None, method: str | None = None) -> dict:
    """Call the Flink REST API at `address` (HOST:PORT): GET, or POST `body` as JSON, or
    `method` (e.g. PATCH to cancel a job). Raises OSError (or ValueError for a body that is
    not JSON) when it does not answer."""
    method = method or ("POST" if body is not None else "GET")
    request = urllib.request.Request(f"http://{address}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


class FlinkCluster:
    """Start, stop and describe the standalone cluster."""

    def __init__(self, settings: config.Settings):
        self.settings = settings
        self.home = settings.data_dir / "flink"

    def _env(self) -> dict[str, str]:
        conf_dir = flinkconf.write_conf_dir(self.settings)
        (self.home / "log").mkdir(parents=True, exist_ok=True)
        return dict(
            os.environ,
            FLINK_CONF_DIR=str(conf_dir),
            FLINK_LIB_DIR=str(flinkconf.assemble_cluster_lib_dir(self.settings)),
            FLINK_LOG_DIR=str(self.home / "log"),
            FLINK_PID_DIR=str(self.home),
            PYTHONPATH=python_path(),
        )

    def _script(self, name: str, action: str) -> None:
        script = flinkconf.pyflink_home() / "bin" / name
        out = subprocess.run(["bash", str(script), action], env=self._env(), capture_output=True, text=True)
        if out.returncode != 0:
            raise SupplyflowError(f"{name} {action} failed: {(out.stderr or out.stdout).strip()[-300:]}")

    def overview(self) -> dict | None:
        """The cluster's REST /overview, or None when it does not answer."""
        try:
            return self.rest("/overview")
        except (OSError, ValueError):
            return None

    def rest(self, path: str) -> dict:
        """GET a REST resource of this cluster (raises OSError when it does not answer)."""
        return rest(f"localhost:{REST_PORT}", path)

    def jobs(self) -> dict[str, dict]:
        """name -> {"jid", "state", ...} of the newest job of each name."""
        out: dict[str, dict] = {}
        for job in sorted(self.rest("/jobs/overview")["jobs"], key=lambda j: j["start-time"]):
            out[job["name"]] = job
        return out

    def placement(self, labels: dict[str, str]) -> dict[str, set[str]]:
        """label -> the TaskManagers the running subtasks of the newest running job of each
        name in `labels` (Flink job name -> label) are on."""
        out: dict[str, set[str]] = {}
        for name, job in self.jobs().items():
            if name in labels and job["state"] == "RUNNING":
                for vertex in self.rest(f"/jobs/{job['jid']}")["vertices"]:
                    for sub in self.rest(f"/jobs/{job['jid']}/vertices/{vertex['id']}")["subtasks"]:
                        if sub.get("status") == "RUNNING":
                            out.setdefault(labels[name], set()).add(sub.get("taskmanager-id") or sub.get("endpoint"))
        return out

    def completed_checkpoints(self, jid: str) -> int:
        """How many checkpoints of the job have completed."""
        return self.rest(f"/jobs/{jid}/checkpoints")["counts"]["completed"]

    def kill_taskmanagers(self) -> list[int]:
        """kill -9 every TaskManager (fault injection); returns their pids."""
        return self._kill("taskexecutor")

    def kill_jobmanager(self) -> list[int]:
        """kill -9 the JobManager (fault injection); without HA its jobs are gone with it."""
        pids = self._kill("standalonesession")
        # its main thread is a zombie before the other threads have let go of the sockets
        procs.wait_until(lambda: not procs.port_open("localhost", REST_PORT), 30, "the killed JobManager's port",
                         f"something else listens on {REST_PORT}")
        return pids

    def checkpoints(self, jid: str = "") -> Path:
        """Where the cluster keeps job `jid`'s checkpoints (flinkconf's
        execution.checkpointing.dir; without `jid`, every job's)."""
        return self.home / "checkpoints" / jid if jid else self.home / "checkpoints"

    def latest_checkpoint(self, jid: str) -> Path | None:
        """The newest completed checkpoint retained for job `jid` (one with its _metadata)."""
        done = [d for d in self.checkpoints(jid).glob("chk-*") if (d / "_metadata").exists()]
        return max(done, key=lambda d: int(d.name.split("-")[1]), default=None)

    def _kill(self, kind: str) -> list[int]:
        import signal

        pids = self._pids(kind)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        # until the kernel has taken them, they still look alive to `start`
        procs.wait_until(lambda: not any(procs.read_pid_value(p) for p in pids), 30,
                         f"the exit of the killed {kind}", "a process survived kill -9: check `ps`")
        return pids

    def pids(self) -> list[int]:
        """The live JobManager and TaskManager processes."""
        return self._pids("standalonesession") + self._pids("taskexecutor")

    def _pids(self, kind: str) -> list[int]:
        pid_file = next(iter(self.home.glob(f"flink-*-{kind}.pid")), None)
        if pid_file is None:
            return []
        pids = []
        for line in pid_file.read_text().split():
            if line.isdigit() and procs.read_pid_value(int(line)):
                pids.append(int(line))
        return pids

    def start(self) -> str:
        """Start the JobManager and TASKMANAGERS TaskManagers; with the JobManager up, start
        the TaskManagers missing (lost to a crash: the local stand-in for a supervisor)."""
        if self._pids("standalonesession") and self.overview():
            lost = self._start_taskmanagers()
            return f"already running; {lost} lost TaskManager(s) restarted" if lost else "already running"
        if procs.port_open("localhost", REST_PORT):
            raise SupplyflowError(f"port {REST_PORT} is already taken by another process: stop it and retry")
        self._script("jobmanager.sh", "start")
        self._start_taskmanagers()  # a TaskManager that outlived its JobManager registers again
        procs.wait_until(
            lambda: (self.overview() or {}).get("taskmanagers", 0) >= TASKMANAGERS, 120, "Flink cluster",
            f"see the logs in {self.home / 'log'}",
        )
        return f"started (REST http://localhost:{REST_PORT})"

    def _start_taskmanagers(self) -> int:
        """Start as many TaskManagers as are missing from TASKMANAGERS; returns how many."""
        missing = max(TASKMANAGERS - len(self._pids("taskexecutor")), 0)
        for _ in range(missing):
            self._script("taskmanager.sh", "start")
        return missing

    def stop(self) -> str:
        if not (self._pids("standalonesession") or self._pids("taskexecutor")):
            return "not running"
        self._script("taskmanager.sh", "stop-all")
        self._script("jobmanager.sh", "stop-all")
        procs.wait_until(lambda: not procs.port_open("localhost", REST_PORT), 60, "Flink cluster shutdown",
                         f"see the logs in {self.home / 'log'}")
        return f"stopped; checkpoints and savepoints kept in {self.home}"

    def status(self) -> tuple[str, str]:
        info = self.overview()
        if info:
            return "running", (f"REST http://localhost:{REST_PORT}, {info.get('taskmanagers', 0)} TaskManager(s), "
                               f"{info.get('jobs-running', 0)} job(s) running")
        if self._pids("standalonesession"):
            return "starting", f"pid {self._pids('standalonesession')[0]}"
        return "stopped", f"logs {self.home / 'log'}"
