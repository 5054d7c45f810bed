"""General helpers every package may import without loading another subject.

* `infra.devices`: the one-axis device mesh and its shardings, host copies of sharded arrays.
* `infra.files`: `atomic_write`, for agent files and run files alike.
* `infra.config_json`: config dataclasses rebuilt from JSON, checked whole against their fields.

It imports none of `graphnets`, `games`, `bad` or `experiments`.
"""
