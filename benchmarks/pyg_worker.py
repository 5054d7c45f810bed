"""The PyTorch Geometric side of `gn_throughput`, run in the torch virtualenv.

    .bench_venv/bin/python -m benchmarks.pyg_worker '<JSON spec>'

Started by the benchmark, never by hand: the spec holds the workload's `Sizes`, and the rounds
are asked for on stdin (`harness.serve`). Serves one contender: a training step (forward,
backward, Adam) of `torch_geometric.nn.MetaLayer` with the edge, node and global models of the
JAX side (same concatenation orders, 2-layer MLPs, sum aggregation) on the same graphs.
"""

from __future__ import annotations

import os
import resource
import sys

from benchmarks import gn_workload, harness


def _resident_bytes() -> int:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm", encoding="utf-8") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_resident_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class MetaLayerStep:
    """The PyG contender; its note (set by `warm_up`) gives the peak memory the steps added."""

    def __init__(self, sizes: gn_workload.Sizes):
        import torch
        from torch import nn
        from torch_geometric.nn import MetaLayer
        from torch_geometric.utils import scatter

        def mlp(inputs: int) -> nn.Module:
            return nn.Sequential(nn.Linear(inputs, sizes.hidden), nn.ReLU(),
                                 nn.Linear(sizes.hidden, sizes.hidden))

        class EdgeModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.mlp = mlp(4 * sizes.features)

            def forward(self, src, dst, edge_attr, u, batch):
                return self.mlp(torch.cat([edge_attr, dst, src, u[batch]], dim=1))

        class NodeModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.mlp = mlp(3 * sizes.features)

            def forward(self, x, edge_index, edge_attr, u, batch):
                received = scatter(edge_attr, edge_index[1], dim=0, dim_size=x.size(0),
                                   reduce="sum")
                return self.mlp(torch.cat([received, x, u[batch]], dim=1))

        class GlobalModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.mlp = mlp(3 * sizes.features)

            def forward(self, x, edge_index, edge_attr, u, batch):
                edges = scatter(edge_attr, batch[edge_index[0]], dim=0, dim_size=u.size(0),
                                reduce="sum")
                nodes = scatter(x, batch, dim=0, dim_size=u.size(0), reduce="sum")
                return self.mlp(torch.cat([edges, nodes, u], dim=1))

        data = {k: torch.from_numpy(v) for k, v in gn_workload.large_workload(sizes).items()}
        self._inputs = (data["nodes"], torch.stack([data["senders"], data["receivers"]]).long(),
                        data["edges"], data["globals"],
                        torch.repeat_interleave(torch.arange(sizes.num_graphs),
                                                data["n_node"].long()))
        self._model = MetaLayer(EdgeModel(), NodeModel(), GlobalModel())
        self._optimizer = torch.optim.Adam(self._model.parameters(), lr=gn_workload.LEARNING_RATE)
        self.name = "PyG MetaLayer"
        self.note = f"torch {torch.__version__}, {torch.get_num_threads()} threads"

    def call(self) -> float:
        """One training step; counts one step."""
        self._optimizer.zero_grad()
        nodes, edges, globals_ = self._model(*self._inputs)
        loss = (edges ** 2).mean() + (nodes ** 2).mean() + (globals_ ** 2).mean()
        loss.backward()
        self._optimizer.step()
        return 1.0

    def warm_up(self) -> None:
        before = _resident_bytes()
        self.call()
        self.call()
        growth = (_peak_resident_bytes() - before) / 2**20
        self.note += f"; {growth:.0f} MiB peak RSS growth"

    def run_round(self, min_seconds: float) -> harness.Round:
        return harness.timed_round(self.call, min_seconds)


def main(argv: list[str]) -> None:
    harness.serve([MetaLayerStep(gn_workload.Sizes(**harness.worker_spec(argv)))])


if __name__ == "__main__":
    main(sys.argv)
