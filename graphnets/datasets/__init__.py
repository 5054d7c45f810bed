"""Data generators for the graph network demos: shortest path, sort, mass-spring physics and
Sort-of-CLEVR (scenes of objects with relational and non-relational questions).

Every sampling function takes an explicit `numpy.random.Generator`; graphs come back as
`jraph.GraphsTuple`s of host numpy arrays (one graph, or a batch made with `jraph.batch_np`).
"""

from graphnets.datasets import physics, shortest_path, sort, sort_of_clevr

__all__ = ["physics", "shortest_path", "sort", "sort_of_clevr"]
