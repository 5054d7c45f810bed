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

Missing fields: a block whose `use_*` switch reads a field the graph lacks
(None) raises a ValueError naming the switch; either switch it off or fill
the graph with zeros by `with_default_fields(graph)` (one zero feature per
node, edge or graph), e.g. for a node-only graph in a `GraphNetwork`.

Checks: `utils.validate` and the conversions refuse malformed host graphs with
a ValueError naming the field; the modules check static shapes when traced.
Values cannot be checked under jit, so validate at the data boundary.

Dtypes: features may be bool, integer or float; computation happens in
`layers.compute_dtype` of the features: float32 for float64 inputs (unless
`jax_enable_x64` is on) and for bool or integer ones; other floats as given.

Layout: `blocks` (the three blocks, reducers, the helpers the modules share),
`modules` (the module family; it re-exports `attention`'s `SelfAttention`,
`GAT` and `HeadwiseAttentionLogits`), `models` (`EncodeProcessDecode`,
`make_mlp`), `layers` (the MLPs), `parallel` (data parallelism), `utils` (a
package: validation, data dicts, networkx, batching, padding) and `datasets`
(the demos' data).
"""

from graphnets import attention, blocks, layers, models, modules, parallel, utils
from graphnets.attention import GAT, HeadwiseAttentionLogits, SelfAttention
from graphnets.blocks import (
    REDUCERS,
    EdgeBlock,
    GlobalBlock,
    NodeBlock,
    segment_max,
    segment_mean,
    segment_min,
    segment_sum,
)
from graphnets.models import EncodeProcessDecode, make_mlp
from graphnets.modules import (
    CommNet,
    DeepSets,
    GraphConvolution,
    GraphIndependent,
    GraphNetwork,
    InteractionNetwork,
    RelationNetwork,
)
from graphnets.utils import with_default_fields

__all__ = [
    "attention",
    "blocks",
    "layers",
    "models",
    "modules",
    "parallel",
    "utils",
    "EdgeBlock",
    "NodeBlock",
    "GlobalBlock",
    "REDUCERS",
    "segment_sum",
    "segment_mean",
    "segment_max",
    "segment_min",
    "GraphNetwork",
    "GraphIndependent",
    "InteractionNetwork",
    "RelationNetwork",
    "DeepSets",
    "CommNet",
    "SelfAttention",
    "GraphConvolution",
    "GAT",
    "HeadwiseAttentionLogits",
    "EncodeProcessDecode",
    "make_mlp",
    "with_default_fields",
]
