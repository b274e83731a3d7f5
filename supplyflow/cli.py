"""The `supplyflow` command (SPEC §7)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from supplyflow import config
from supplyflow.errors import SupplyflowError


def _cmd_stack(args: argparse.Namespace) -> int:
    from supplyflow import stack

    s = config.settings()
    if args.action == "up":
        stack.up(s, flink_cluster=args.flink_cluster)
        return 0
    if args.action == "down":
        stack.down(s)
        return 0
    return 0 if stack.status(s) else 1


def _cmd_produce(args: argparse.Namespace) -> int:
    from supplyflow.produce import produce
    from testdata import files, generator

    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise SupplyflowError(f"no such file: {path} (give a JSONL file of records, one per line)")
        records = files.read_jsonl(path)
        label = str(path)
    else:
        if args.scenario not in generator.SCENARIOS:
            raise SupplyflowError(f"unknown scenario {args.scenario!r}: choose one of {', '.join(generator.SCENARIOS)}")
        scenario = generator.generate(args.scenario, seed=args.seed, size=args.size)
        records = scenario.records
        label = f"scenario {args.scenario} (seed {args.seed})"
    counts = produce(config.settings(), records, rate=args.rate, progress=not args.quiet)
    total = sum(counts.values())
    print(f"produced {total} records from {label}: " + ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
    return 0


JOB_HELP = ("edge, shipment-matching, eta-exceptions, inventory, reorder, core (those four as one Flink job), "
            "or all (edge, then core)")


def _cmd_run(args: argparse.Namespace) -> int:
    from supplyflow import runner

    names = list(runner.ALL) if args.job == "all" else [args.job]
    runner.run(names, config.settings(), bounded=args.bounded, parallelism=args.parallelism)
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    from supplyflow import runner, submit

    names = list(runner.ALL) if args.job == "all" else [args.job]
    return submit.main(names, config.settings(), args.jobmanager, bounded=args.bounded, parallelism=args.parallelism,
                       savepoint=args.from_savepoint)


def _cmd_savepoint(args: argparse.Namespace) -> int:
    from supplyflow import savepoint

    return savepoint.main(args.job, config.settings(), args.jobmanager)


def _cmd_demo(args: argparse.Namespace) -> int:
    from supplyflow import demo

    return demo.main(config.settings(), scenario=args.scenario, seed=args.seed)


def _cmd_bench(args: argparse.Namespace) -> int:
    from supplyflow import stack

    settings = config.settings()
    if args.name == "rules":  # pure Python: no stack
        from benchmarks import rules

        rules.main(settings, size=args.size, profile=args.profile)
        return 0
    stack.up(settings, flink_cluster=args.name == "suite")
    if args.name == "suite":
        from benchmarks import suite

        suite.main(settings, systems=args.systems, rates=args.rates, seconds=args.seconds,
                   latency_rate=args.latency_rate, checkpoint_interval=args.checkpoint_interval)
    elif args.name == "validation":
        from benchmarks import validation

        validation.main(settings, size=args.size)
    elif args.name == "jobs":
        from benchmarks import jobs

        jobs.main(settings, size=args.size)
    return 0


def _cmd_alerts(args: argparse.Namespace) -> int:
    from supplyflow import alerts_cli

    return alerts_cli.main(config.settings(), types=args.type, min_severity=args.min_severity, follow=args.follow,
                           as_json=args.json)


def _cmd_metrics(args: argparse.Namespace) -> int:
    from supplyflow import metrics

    return metrics.main(config.settings(), as_json=args.json)


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from supplyflow import reconcile

    return reconcile.main(config.settings(), Path(args.json_out) if args.json_out else None)


def _cmd_quality(args: argparse.Namespace) -> int:
    from supplyflow import quality

    return quality.main(config.settings())


def _cmd_doctor(args: argparse.Namespace) -> int:
    from supplyflow import doctor

    return doctor.main(config.settings())


def _cmd_sql(args: argparse.Namespace) -> int:
    from pathlib import Path

    from supplyflow import sql_client

    return sql_client.main(config.settings(), Path(args.file) if args.file else None, streaming=args.streaming,
                           print_catalog=args.catalog)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _rates(text: str) -> list[int]:
    try:
        rates = [int(r) for r in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole events/s, comma-separated, e.g. 500,1000") from None
    if any(r < 1 for r in rates) or rates != sorted(rates):
        raise argparse.ArgumentTypeError(f"{text!r}: rates must be positive and ascending")
    return rates


def _names(text: str) -> list[str]:
    from benchmarks.suite import SYSTEMS

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown system(s) {', '.join(unknown) or text!r}: choose from "
                                         f"{', '.join(SYSTEMS)}")
    return names


def parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="supplyflow", description="Exactly-once supply-chain state and alerts on Flink.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    st = sub.add_parser("stack", help="start/stop/show the local Kafka, PostgreSQL (and Flink cluster)")
    st.add_argument("action", choices=["up", "down", "status"])
    st.add_argument("--flink-cluster", action="store_true", help="also start a standalone Flink JobManager+TaskManager")
    st.set_defaults(func=_cmd_stack)

    pr = sub.add_parser("produce", help="write a generated scenario or a JSONL file to the input topics")
    src = pr.add_mutually_exclusive_group()
    src.add_argument("--scenario", default="demo", help="scenario name (default: demo)")
    src.add_argument("--file", help="JSONL file of records ({topic, key, value} per line)")
    pr.add_argument("--rate", type=float, default=None, help="records per second (default: as fast as possible)")
    pr.add_argument("--seed", type=int, default=7, help="generator seed (default: 7)")
    pr.add_argument("--size", type=_positive, default=None, help="scenario size (records, roughly)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=_cmd_produce)

    rn = sub.add_parser("run", help="run jobs on the embedded Flink MiniCluster")
    rn.add_argument("job", help=JOB_HELP)
    rn.add_argument("--bounded", action="store_true", help="read inputs up to their current end, then finish")
    rn.add_argument("--parallelism", type=_positive, default=1)
    rn.set_defaults(func=_cmd_run)

    sb = sub.add_parser("submit", help="submit jobs to a running Flink cluster (flink run)")
    sb.add_argument("job", help=JOB_HELP)
    sb.add_argument("--jobmanager", default="localhost:8081",
                    help="the cluster's REST address (default localhost:8081)")
    sb.add_argument("--bounded", action="store_true", help="read inputs up to their current end, wait for each job")
    sb.add_argument("--parallelism", type=_positive, default=1)
    sb.add_argument("--from-savepoint", help="restore the job from this savepoint (or retained checkpoint)")
    sb.set_defaults(func=_cmd_submit)

    sp = sub.add_parser("savepoint", help="stop a job on the Flink cluster with a savepoint (to resume or upgrade)")
    sp.add_argument("job", help="job name")
    sp.add_argument("--jobmanager", default="localhost:8081", help="the cluster's REST address")
    sp.set_defaults(func=_cmd_savepoint)

    bn = sub.add_parser("bench", help="run a benchmark on the local stack (see benchmarks/README.md)")
    bn.add_argument("name", choices=["suite", "validation", "jobs", "rules"])
    bn.add_argument("--size", type=_positive, default=100_000,
                    help="validation, jobs, rules: records to push through (default 100000)")
    bn.add_argument("--profile", action="store_true", help="rules: also print cProfile's 25 costliest functions")
    bn.add_argument("--systems", type=_names, default=["suite", "passthrough", "peer"],
                    help="suite: the systems to measure, comma-separated (default suite,passthrough,peer; "
                         "also edge, edge-floor: the suite's first job alone, with and without Python; "
                         "tables-sql: the edge, then core's tables in SQL, a sketch; "
                         "keyed-floor, timer-floor: the pass-through through the cheapest keyed Python stage, "
                         "without and with a wait for the watermark)")
    bn.add_argument("--rates", type=_rates, default=[250, 500, 1000, 2000, 5000, 10000],
                    help="suite: input rates (events/s) of the steps, ascending, comma-separated")
    bn.add_argument("--seconds", type=_positive, default=300, help="suite: seconds per step (default 300)")
    bn.add_argument("--latency-rate", type=_positive, default=5000,
                    help="suite: the rate whose latency percentiles the summary names (default 5000)")
    bn.add_argument("--checkpoint-interval", default="",
                    help="suite: the Flink jobs' checkpoint (and commit) interval, e.g. '1 s' (default: 5 s)")
    bn.set_defaults(func=_cmd_bench)

    al = sub.add_parser("alerts", help="print the alerts (read_committed), for people or, with --json, scripts")
    al.add_argument("--type", help="only these alert types, comma-separated (e.g. REORDER,COUNT_VARIANCE)")
    al.add_argument("--min-severity", help="only alerts at least this severe: LOW, MEDIUM, HIGH, CRITICAL")
    al.add_argument("--follow", "-f", action="store_true", help="keep printing new alerts until Ctrl-C")
    al.add_argument("--json", action="store_true", help="one alert envelope (JSON) per line")
    al.set_defaults(func=_cmd_alerts)

    mt = sub.add_parser("metrics", help="what the running jobs count: accepted, rejected, late, duplicates, alerts"
                                        " by type, watermark lag per source")
    mt.add_argument("--json", action="store_true", help="one JSON report per job and line, for scripts")
    mt.set_defaults(func=_cmd_metrics)

    rc = sub.add_parser("reconcile", help="delivered vs received, delivered but never received, count variances")
    rc.add_argument("--json-out", help="where to write the rows as JSON (default: .data/reconcile.json)")
    rc.set_defaults(func=_cmd_reconcile)

    qa = sub.add_parser("quality", help="great-expectations checks of the output tables, with an HTML report")
    qa.set_defaults(func=_cmd_quality)

    dr = sub.add_parser("doctor", help="preflight: what would silently break exactly-once, with a fix for each")
    dr.set_defaults(func=_cmd_doctor)

    sq = sub.add_parser("sql", help="the Flink SQL client with every topic and table declared (see sql/)")
    sq.add_argument("-f", "--file", help="run this SQL script and print its results, then exit")
    sq.add_argument("--catalog", action="store_true",
                    help="print the catalog (every CREATE TABLE; the password as a placeholder) and exit")
    sq.add_argument("--streaming", action="store_true",
                    help="unbounded streaming queries (default: bounded batch queries that finish)")
    sq.set_defaults(func=_cmd_sql)

    dm = sub.add_parser("demo", help="start the stack, stream the demo scenario through the jobs, summarize")
    dm.add_argument("--scenario", default="demo")
    dm.add_argument("--seed", type=int, default=7)
    dm.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: one-line errors, non-zero exit codes."""
    import logging

    # py4j logs a traceback (on the root logger) when Ctrl-C interrupts a call into its
    # Flink JVM; the interrupt itself is reported below, once
    logging.getLogger("py4j").setLevel(logging.CRITICAL)
    logging.getLogger().addFilter(
        lambda record: not record.getMessage().startswith("KeyboardInterrupt while sending command"))
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SupplyflowError as exc:
        print(f"supplyflow: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("supplyflow: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
