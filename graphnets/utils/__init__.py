"""Building, converting, batching, padding and validating `jraph.GraphsTuple`s.

Conventions (those of graph_nets and jraph): a GraphsTuple is a batch of
graphs stored back to back; `n_node[g]` and `n_edge[g]` count graph g's rows;
`senders` and `receivers` index node rows of the whole batch; an edge and its
two nodes belong to the same graph. Data dicts (graph_nets' `data_dicts`) hold
one graph each, with node indices local to that graph. Empty graphs, graphs
without edges (`edges` of shape `(0, k)` or None) and single nodes are valid
everywhere.

Features may be bool, integer or float arrays. They keep their dtype here; the
modules compute in jax's dtype for them, so float64 features are computed in
float32 unless `jax_enable_x64` is on (integer and bool features in float32).

Only host arrays can be checked: compiled (jitted) code sees shapes, not
values, so validate graphs at the data boundary with `validate`. The
conversions here and `pad_to` (when given concrete arrays) do it for you, and
every refusal is a `ValueError` naming the field. Sizes (node, edge and graph
counts, padding budgets) must fit int32, the index dtype; every public function
refuses larger ones by name before allocating anything of that size.

Every name below is used as `graphnets.utils.NAME`; the modules that hold them:

- `validation`: `validate`, `check_shapes`, `num_node_rows`, and the checks
  the other modules share;
- `data_dicts`: `data_dicts_to_graphs_tuple`, `graphs_tuple_to_data_dicts`,
  `unbatch`, `DATA_DICT_KEYS`;
- `nx_graphs`: `networkxs_to_graphs_tuple`, `graphs_tuple_to_networkxs`;
- `batching`: `concat`, `batch`, `fully_connect_graph`, `with_default_fields`,
  `FEATURE_FIELDS`;
- `padding`: `pad_to`, `graph_mask`, `node_mask`, `edge_mask`,
  `next_power_of_two`, `bucket_sizes`, `pad_to_bucket`.
"""

from graphnets.utils.batching import (
    FEATURE_FIELDS,
    batch,
    concat,
    fully_connect_graph,
    with_default_fields,
)
from graphnets.utils.data_dicts import (
    DATA_DICT_KEYS,
    data_dicts_to_graphs_tuple,
    graphs_tuple_to_data_dicts,
    unbatch,
)
from graphnets.utils.nx_graphs import graphs_tuple_to_networkxs, networkxs_to_graphs_tuple
from graphnets.utils.padding import (
    bucket_sizes,
    edge_mask,
    graph_mask,
    next_power_of_two,
    node_mask,
    pad_to,
    pad_to_bucket,
)
from graphnets.utils.validation import check_shapes, num_node_rows, validate

__all__ = [
    "FEATURE_FIELDS",
    "DATA_DICT_KEYS",
    "validate",
    "check_shapes",
    "num_node_rows",
    "data_dicts_to_graphs_tuple",
    "graphs_tuple_to_data_dicts",
    "unbatch",
    "networkxs_to_graphs_tuple",
    "graphs_tuple_to_networkxs",
    "concat",
    "batch",
    "fully_connect_graph",
    "with_default_fields",
    "pad_to",
    "graph_mask",
    "node_mask",
    "edge_mask",
    "next_power_of_two",
    "bucket_sizes",
    "pad_to_bucket",
]
