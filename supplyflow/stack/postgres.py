"""A PostgreSQL server from Debian's packages, with its cluster under <data_dir>/postgres.

`start` installs the server package when it is missing (as root, with apt-get), creates
a cluster owned by the `postgres` OS user (initdb refuses root), starts it on
localhost:<port>, and creates the database and role from the settings. When the port is
already served by another PostgreSQL, that server is used if it accepts our role.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from supplyflow import config, procs
from supplyflow.errors import SupplyflowError


def _server_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


class Postgres:
    """Start, stop and describe the local PostgreSQL server."""

    def __init__(self, settings: config.Settings):
        self.settings = settings
        self._locate()

    def _locate(self) -> None:
        self.home = self._cluster_home(self.settings)
        self.pgdata = self.home / "data"
        self.sockdir = self.home / "run"
        self.log_file = self.home / "postgres.log"

    def is_local(self) -> bool:
        return self.settings.pg_host in ("localhost", "127.0.0.1")

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _cluster_home(settings: config.Settings) -> Path:
        """<data_dir>/postgres, unless the `postgres` OS user (the cluster owner when we run
        as root) cannot reach it — e.g. a checkout under a private mktemp directory. Then
        the cluster lives in /var/lib/postgresql/supplyflow/<hash of data_dir>, the same
        place for every command on this checkout."""
        home = settings.data_dir / "postgres"
        try:
            if os.geteuid() != 0 or not pwd.getpwnam("postgres"):
                return home
        except KeyError:  # not installed yet: start() installs, then locates again
            return home
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        reachable = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(settings.data_dir)],
                                   cwd="/", capture_output=True).returncode == 0
        if reachable:
            return home
        digest = hashlib.sha1(str(settings.data_dir.resolve()).encode()).hexdigest()[:12]
        return Path("/var/lib/postgresql/supplyflow") / digest

    def _as_owner(self) -> list[str]:
        """Prefix that runs a server command as the cluster owner (postgres when root)."""
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise SupplyflowError("OS user `postgres` missing: reinstall the postgresql package") from exc
        return ["runuser", "-u", "postgres", "--"]

    def _install(self) -> Path:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise SupplyflowError("PostgreSQL server not found: install it (sudo apt-get install postgresql) and retry")
        print("  installing PostgreSQL from Debian's packages (apt-get install postgresql)…", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
            if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
                raise SupplyflowError(f"`{' '.join(cmd)}` failed: install PostgreSQL by hand and retry")
        binary = _server_bin()
        if binary is None:
            raise SupplyflowError("PostgreSQL still not found after apt-get install postgresql")
        return binary

    def _run(self, args: list[str], what: str) -> None:
        out = subprocess.run(self._as_owner() + args, capture_output=True, text=True, cwd="/")
        if out.returncode != 0:
            raise SupplyflowError(f"{what} failed: {(out.stderr or out.stdout).strip()[-400:]} (log: {self.log_file})")

    def pid(self) -> int | None:
        """The postmaster's pid, if ours runs (read_pid: none without its pid file)."""
        return procs.read_pid(self.pgdata / "postmaster.pid")

    def _ours_running(self) -> bool:
        return self.pid() is not None

    def _connect(self, **overrides):
        import psycopg

        info = self.settings.pg_conninfo()
        info.update(overrides)
        return psycopg.connect(**info, connect_timeout=5, autocommit=True)

    def admin_connect(self, dbname: str):
        """A connection as the superuser `postgres` over our cluster's local socket (trust):
        for role and database administration, e.g. a test's own login."""
        return self._connect(host=str(self.sockdir), user="postgres", dbname=dbname, password=None)

    def check_login(self) -> None:
        """Fail with a fix when the configured role cannot log in."""
        import psycopg

        try:
            self._connect().close()
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "connection refused"
            raise SupplyflowError(
                f"PostgreSQL at {self.settings.pg_host}:{self.settings.pg_port} refuses user "
                f"{self.settings.pg_user!r} on database {self.settings.pg_db!r} ({reason}): create that role and "
                f"database, or set SUPPLYFLOW_PG_USER/SUPPLYFLOW_PG_PASSWORD/SUPPLYFLOW_PG_PORT"
            ) from None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> str:
        """Start our cluster (creating it the first time) or adopt a compatible server."""
        s = self.settings
        if not self.is_local():
            self.check_login()
            return f"using external PostgreSQL at {s.pg_host}:{s.pg_port}"
        if self._ours_running():
            self._ensure_role_and_db()
            return "already running"
        if procs.port_open("localhost", s.pg_port):
            self.check_login()
            return f"using the PostgreSQL already serving localhost:{s.pg_port}"
        binary = _server_bin()
        if binary is None:
            binary = self._install()
            self._locate()  # the postgres OS user exists now
        owner = self._as_owner()
        self.home.mkdir(parents=True, exist_ok=True)
        if owner and not self.home.is_relative_to(self.settings.data_dir):
            shutil.chown(self.home.parent, "postgres", "postgres")
        self.sockdir.mkdir(parents=True, exist_ok=True)
        if owner:
            shutil.chown(self.home, "postgres", "postgres")
            shutil.chown(self.sockdir, "postgres", "postgres")
        created = False
        if not (self.pgdata / "PG_VERSION").exists():
            self._run([str(binary / "initdb"), "-D", str(self.pgdata), "-U", "postgres", "-E", "UTF8",
                       "--auth-local=trust", "--auth-host=scram-sha-256", "--no-instructions"], "initdb")
            created = True
        opts = f"-p {s.pg_port} -k {self.sockdir} -c listen_addresses=localhost -c max_connections=100"
        self._run([str(binary / "pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log_file),
                   "-o", opts, "-w", "-t", "60", "start"], "starting PostgreSQL")
        self._ensure_role_and_db()
        return ("created cluster and started" if created else "started") + f" (data {self.pgdata})"

    def _ensure_role_and_db(self) -> None:
        # createdb: the test suite makes a throw-away database per run beside the user's
        from psycopg import sql

        s = self.settings
        with self._connect(host=str(self.sockdir), user="postgres", dbname="postgres", password=None) as conn:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (s.pg_user,)).fetchone()
            verb = "alter" if exists else "create"
            conn.execute(sql.SQL(verb + " role {} with login createdb password {}").format(
                sql.Identifier(s.pg_user), sql.Literal(s.pg_password)))
            if not conn.execute("select 1 from pg_database where datname = %s", (s.pg_db,)).fetchone():
                conn.execute(sql.SQL("create database {} owner {}").format(
                    sql.Identifier(s.pg_db), sql.Identifier(s.pg_user)))

    def stop(self, mode: str = "fast") -> str:
        """Stop our server; mode `immediate` is a crash (fault injection): no clean shutdown."""
        if not self._ours_running():
            return "not running (ours)"
        binary = _server_bin()
        assert binary is not None
        cmd = [str(binary / "pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "stop"]
        self._run(cmd, "stopping PostgreSQL")
        return f"stopped; data kept in {self.pgdata}"

    def status(self) -> tuple[str, str]:
        s = self.settings
        if self._ours_running():
            return "running", f"localhost:{s.pg_port} data {self.pgdata}"
        if procs.port_open(s.pg_host, s.pg_port):
            return "running", f"{s.pg_host}:{s.pg_port} (not started by supplyflow)"
        return "stopped", f"data {self.pgdata}"
