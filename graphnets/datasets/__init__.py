"""Data generators for the graph network demos: shortest path, sort and mass-spring physics.

Every sampling function takes an explicit `numpy.random.Generator`; graphs come back as
`jraph.GraphsTuple`s of host numpy arrays (one graph, or a batch made with `jraph.batch_np`).
"""

from graphnets.datasets import physics, shortest_path, sort

__all__ = ["physics", "shortest_path", "sort"]
