"""Side-by-side performance scripts: ours against the peers, interleaved (`benchmarks.harness`)."""
