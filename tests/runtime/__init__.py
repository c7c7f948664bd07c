"""Runtime tests: a package, so their module names (runtime.test_graph) differ from
those of tests/ (test_graph) under pytest's default import mode."""
