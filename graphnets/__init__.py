"""Graph networks (Battaglia et al. 2018) on jraph's GraphsTuple and Haiku.

Names follow DeepMind's TF `graph_nets`: blocks (`EdgeBlock`, `NodeBlock`,
`GlobalBlock`) with `use_*` switches and reducers, the module family
(`GraphNetwork`, `InteractionNetwork`, ...), `EncodeProcessDecode` and numpy /
networkx conversions. Example::

    import haiku as hk, jax, numpy as np
    import graphnets as gn

    graph = gn.utils.data_dicts_to_graphs_tuple([{
        "nodes": np.ones((3, 4), np.float32), "edges": np.ones((2, 5), np.float32),
        "globals": np.zeros(1, np.float32), "senders": [0, 1], "receivers": [1, 2]}])
    graph = gn.utils.pad_to_bucket(graph)   # a bounded number of shapes to compile

    mlp = gn.make_mlp([16, 16])
    net = hk.without_apply_rng(hk.transform(lambda g: gn.GraphNetwork(mlp, mlp, mlp)(g)))
    params = net.init(jax.random.PRNGKey(0), graph)
    out = jax.jit(net.apply)(params, graph)
"""

from graphnets import blocks, layers, models, modules, parallel, utils
from graphnets.blocks import EdgeBlock, GlobalBlock, NodeBlock, segment_max, segment_mean, segment_min, segment_sum
from graphnets.models import EncodeProcessDecode, make_mlp
from graphnets.modules import (GAT, CommNet, DeepSets, GraphConvolution, GraphIndependent, GraphNetwork,
                               InteractionNetwork, RelationNetwork, SelfAttention)

__all__ = [
    "blocks", "layers", "models", "modules", "parallel", "utils",
    "EdgeBlock", "NodeBlock", "GlobalBlock", "segment_sum", "segment_mean", "segment_max", "segment_min",
    "GraphNetwork", "GraphIndependent", "InteractionNetwork", "RelationNetwork", "DeepSets", "CommNet",
    "SelfAttention", "GraphConvolution", "GAT", "EncodeProcessDecode", "make_mlp",
]
