"""The program `supplyflow submit` hands to `flink run -py`: one job of jobs/, built in the
cluster client's environment with the same `build` and job options as an embedded run.

    flink run -m HOST:PORT -py jobs/cluster_entry.py -pyexec PYTHON -pyclientexec PYTHON \\
        [-p N] [-s SAVEPOINT] NAME [--bounded]

Settings (namespace, Kafka, PostgreSQL) come from the SUPPLYFLOW_* environment, as
everywhere. A bounded run waits for the job to finish, then runs the job's
`on_finished` hook (the edge commits its end offsets there).
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cluster_entry")
    # a positional name: the flink CLI would take `--job …` for a prefix of its --jobmanager
    parser.add_argument("job")
    parser.add_argument("--bounded", action="store_true")
    args = parser.parse_args(argv)

    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    from supplyflow import config, runner

    settings = config.settings()
    module = runner.job_module(args.job)
    t_env = StreamTableEnvironment.create(StreamExecutionEnvironment.get_execution_environment())
    for key, value in runner.job_overrides(args.job, settings).items():
        t_env.get_config().set(key, value)
    result = module.build(t_env, settings, bounded=args.bounded).execute()
    print(f"submitted {args.job}: job id {result.get_job_client().get_job_id()}", flush=True)
    if args.bounded:
        result.wait()
        finished = getattr(module, "on_finished", None)
        if finished:
            finished(settings)
        print(f"{args.job} finished", flush=True)


if __name__ == "__main__":
    main()
