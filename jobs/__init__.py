"""supplyflow's Flink jobs: one module per job, each exposing `build(t_env, settings, bounded)`."""
