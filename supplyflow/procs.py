"""Small process helpers shared by the stack services: pid files, ports, waiting."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Sequence

from supplyflow.errors import SupplyflowError


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(pid_file: Path) -> int | None:
    """The pid in pid_file if that process is alive, else None."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return read_pid_value(pid)


def read_pid_value(pid: int) -> int | None:
    """pid if that process is alive (and not a zombie), else None."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # a zombie child of ours is not alive
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        if state == "Z":
            return None
    except OSError:
        pass
    return pid


def spawn(cmd: Sequence[str], log_file: Path, pid_file: Path, env: dict[str, str] | None = None) -> int:
    """Start cmd detached from this process (it outlives the CLI), logging to log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(cmd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def wait_until(check: Callable[[], bool], timeout: float, what: str, hint: str,
               alive: Callable[[], bool] | None = None) -> None:
    """Poll check() until it is true; fail with a message naming what and how to fix it."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise SupplyflowError(f"{what} exited during start-up; {hint}")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    raise SupplyflowError(f"{what} did not become ready within {timeout:.0f}s; {hint}")


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL after timeout; returns when the process is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
