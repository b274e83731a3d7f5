"""supplyflow's benchmarks (`supplyflow bench NAME`); see benchmarks/README.md."""
