"""Side-by-side performance scripts against the peers named in DESIGN.md."""
