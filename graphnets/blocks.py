"""The three blocks of a graph network (Battaglia et al. 2018) and their helpers.

`EdgeBlock`, `NodeBlock` and `GlobalBlock` each update one field of a
`jraph.GraphsTuple` from a chosen subset of the others, following the
`use_*` switches and reducers of DeepMind's `graph_nets.blocks`. Each takes a
model factory: a callable, called once per block call inside the block's Haiku
scope, returning the update function (an MLP, say).

A block feeds its model the concatenation, in the documented order, of the
fields it uses. Models that have a `call_on_parts` method (the MLPs of
`graphnets.layers` / `graphnets.models.make_mlp`) receive the fields as parts
and project each before broadcasting it; others receive the concatenation.

Reducers have the signature `reducer(data, segment_ids, num_segments,
indices_are_sorted=False)`; empty segments reduce to zeros. Wherever a reducer
is taken, its name in `REDUCERS` ("sum", "mean", "max", "min") will do too.

A switched-on field that the graph lacks (None) is an error naming the switch
to turn off; `graphnets.with_default_fields` fills missing fields with zeros
instead. The blocks check the graph's static shapes (`graphnets.utils.
check_shapes`) when called; values are checked by `graphnets.utils.validate`
at the data boundary.

The graph helpers here (`num_nodes`, `add_self_edges`, `require_nodes`, ...)
are shared with `graphnets.modules` and `graphnets.attention`.
"""

from collections.abc import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import jraph

from graphnets import utils
from graphnets.layers import Part, apply_model

Reducer = Callable[..., jax.Array]
ModelFn = Callable[[], Callable[[jax.Array], jax.Array]]


def segment_sum(
    data: jax.Array, segment_ids: jax.Array, num_segments: int, indices_are_sorted: bool = False
) -> jax.Array:
    """Sum of each segment's rows; zeros for an empty segment."""
    return jax.ops.segment_sum(
        data, segment_ids, num_segments, indices_are_sorted=indices_are_sorted
    )


def _segment_counts(
    data: jax.Array, segment_ids: jax.Array, num_segments: int, indices_are_sorted: bool
) -> jax.Array:
    """Rows per segment, shaped to broadcast against a reduction of `data`."""
    ones = jnp.ones(segment_ids.shape, data.dtype)
    counts = jax.ops.segment_sum(
        ones, segment_ids, num_segments, indices_are_sorted=indices_are_sorted
    )
    return counts.reshape(counts.shape + (1,) * (data.ndim - 1))


def segment_mean(
    data: jax.Array, segment_ids: jax.Array, num_segments: int, indices_are_sorted: bool = False
) -> jax.Array:
    """Mean of each segment's rows; zeros for an empty segment."""
    total = segment_sum(data, segment_ids, num_segments, indices_are_sorted)
    counts = _segment_counts(data, segment_ids, num_segments, indices_are_sorted)
    return total / jnp.maximum(counts, 1)


def segment_max(
    data: jax.Array, segment_ids: jax.Array, num_segments: int, indices_are_sorted: bool = False
) -> jax.Array:
    """Elementwise maximum of each segment's rows; zeros (not -inf) for an empty segment."""
    result = jax.ops.segment_max(
        data, segment_ids, num_segments, indices_are_sorted=indices_are_sorted
    )
    counts = _segment_counts(data, segment_ids, num_segments, indices_are_sorted)
    return jnp.where(counts > 0, result, 0)


def segment_min(
    data: jax.Array, segment_ids: jax.Array, num_segments: int, indices_are_sorted: bool = False
) -> jax.Array:
    """Elementwise minimum of each segment's rows; zeros (not +inf) for an empty segment."""
    result = jax.ops.segment_min(
        data, segment_ids, num_segments, indices_are_sorted=indices_are_sorted
    )
    counts = _segment_counts(data, segment_ids, num_segments, indices_are_sorted)
    return jnp.where(counts > 0, result, 0)


REDUCERS: dict[str, Reducer] = {
    "sum": segment_sum,
    "mean": segment_mean,
    "max": segment_max,
    "min": segment_min,
}


def resolve_reducer(reducer: Reducer | str, argument: str) -> Reducer:
    """The reducer `reducer` names (a key of `REDUCERS`), or `reducer` itself if it is callable."""
    if isinstance(reducer, str):
        if reducer not in REDUCERS:
            raise ValueError(
                f"{argument} is {reducer!r} but must be one of {', '.join(map(repr, REDUCERS))} "
                "or a reducer function such as graphnets.segment_sum."
            )
        return REDUCERS[reducer]
    if not callable(reducer):
        raise ValueError(
            f"{argument} is a {type(reducer).__name__} but must be a reducer function such as "
            f"graphnets.segment_sum or one of {', '.join(map(repr, REDUCERS))}."
        )
    return reducer


def segment_softmax(logits: jax.Array, segment_ids: jax.Array, num_segments: int) -> jax.Array:
    """Softmax of `logits` over the rows of each segment (per trailing index)."""
    maxima = jax.lax.stop_gradient(segment_max(logits, segment_ids, num_segments))
    exps = jnp.exp(logits - maxima[segment_ids])
    totals = segment_sum(exps, segment_ids, num_segments)
    return exps / totals[segment_ids]


def num_graphs(graph: jraph.GraphsTuple) -> int:
    """Number of graphs in the batch (static)."""
    return graph.n_node.shape[0]


def num_nodes(graph: jraph.GraphsTuple) -> int:
    """Number of node rows (static); see `graphnets.utils.num_node_rows`."""
    return utils.num_node_rows(graph)


def num_edges(graph: jraph.GraphsTuple) -> int:
    """Number of edge rows (static)."""
    return graph.senders.shape[0]


def node_graph_index(graph: jraph.GraphsTuple) -> jax.Array:
    """For each node, the index of the graph it belongs to."""
    return jnp.repeat(
        jnp.arange(num_graphs(graph)), graph.n_node, total_repeat_length=num_nodes(graph)
    )


def edge_graph_index(graph: jraph.GraphsTuple) -> jax.Array:
    """For each edge, the index of the graph it belongs to."""
    return jnp.repeat(
        jnp.arange(num_graphs(graph)), graph.n_edge, total_repeat_length=num_edges(graph)
    )


def add_self_edges(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """Appends an edge i -> i for every node (edge features are dropped)."""
    total_nodes = num_nodes(graph)
    loops = jnp.arange(total_nodes, dtype=graph.senders.dtype)
    return graph._replace(
        senders=jnp.concatenate([graph.senders, loops]),
        receivers=jnp.concatenate([graph.receivers, loops]),
        n_edge=graph.n_edge + graph.n_node,
        edges=None,
    )


def missing_inputs(
    switches: dict[str, tuple[bool, str]], present: set[str]
) -> list[tuple[str, str]]:
    """(switch, field) of every switched-on input whose field is not in `present`.

    `switches` maps each `use_*` switch to (whether it is on, the field it reads).
    """
    return [
        (switch, field) for switch, (on, field) in switches.items() if on and field not in present
    ]


def present_fields(graph: jraph.GraphsTuple) -> set[str]:
    """The feature fields of `graph` that are not None."""
    return {field for field in utils.FEATURE_FIELDS if getattr(graph, field) is not None}


def require_nodes(graph: jraph.GraphsTuple, module: str) -> None:
    """Checks static shapes, and that the graph has the node features a module transforms."""
    utils.check_shapes(graph)
    if graph.nodes is None:
        raise ValueError(
            f"{module} transforms graph.nodes but it is None; give the graph node features "
            "(graphnets.with_default_fields(graph) adds one zero feature per node)."
        )


def _require_a_switch(switches: dict[str, tuple[bool, str]]) -> None:
    """Raises a ValueError naming every `use_*` switch of a block when all of them are off."""
    if not any(on for on, _ in switches.values()):
        *others, last = switches
        raise ValueError(f"At least one of {', '.join(others)} or {last} must be True.")


def _check_inputs(
    graph: jraph.GraphsTuple, block: str, switches: dict[str, tuple[bool, str]]
) -> None:
    """Checks static shapes; a missing switched-on field is a ValueError naming the switch."""
    utils.check_shapes(graph)
    missing = missing_inputs(switches, present_fields(graph))
    if missing:
        switch, field = missing[0]
        raise ValueError(
            f"{block} has {switch}=True but graph.{field} is None; pass {switch}=False, or "
            "fill missing fields with zeros by graphnets.with_default_fields(graph)."
        )


def broadcast_globals_to_edges(graph: jraph.GraphsTuple) -> jax.Array:
    """Each edge's row of its graph's globals."""
    return jnp.asarray(graph.globals)[edge_graph_index(graph)]


def broadcast_globals_to_nodes(graph: jraph.GraphsTuple) -> jax.Array:
    """Each node's row of its graph's globals."""
    return jnp.asarray(graph.globals)[node_graph_index(graph)]


def broadcast_receiver_nodes_to_edges(graph: jraph.GraphsTuple) -> jax.Array:
    """Each edge's receiver node features."""
    return jnp.asarray(graph.nodes)[graph.receivers]


def broadcast_sender_nodes_to_edges(graph: jraph.GraphsTuple) -> jax.Array:
    """Each edge's sender node features."""
    return jnp.asarray(graph.nodes)[graph.senders]


def received_edges_to_nodes_aggregate(graph: jraph.GraphsTuple, reducer: Reducer) -> jax.Array:
    """Each node's reduction of the edges it receives."""
    return reducer(graph.edges, graph.receivers, num_nodes(graph))


def sent_edges_to_nodes_aggregate(graph: jraph.GraphsTuple, reducer: Reducer) -> jax.Array:
    """Each node's reduction of the edges it sends."""
    return reducer(graph.edges, graph.senders, num_nodes(graph))


def edges_to_globals_aggregate(graph: jraph.GraphsTuple, reducer: Reducer) -> jax.Array:
    """Each graph's reduction of its edges."""
    return reducer(graph.edges, edge_graph_index(graph), num_graphs(graph), indices_are_sorted=True)


def nodes_to_globals_aggregate(graph: jraph.GraphsTuple, reducer: Reducer) -> jax.Array:
    """Each graph's reduction of its nodes."""
    return reducer(graph.nodes, node_graph_index(graph), num_graphs(graph), indices_are_sorted=True)


def _edge_globals_part(graph: jraph.GraphsTuple) -> Part:
    """The globals of each edge's graph, as a part of the edge model's input.

    Edges never cross graphs, so an edge's graph is its receiver's graph:
    reaching the globals through the receivers lets a model that reads parts
    fold the globals' projection into the receivers' (one gather per edge
    instead of two).
    """
    if graph.nodes is None:
        return Part(graph.globals, edge_graph_index(graph))
    return Part(graph.globals, graph.receivers, node_graph_index(graph))


class EdgeBlock(hk.Module):
    """Updates edges: e'_k = phi_e(concat(e_k, v_{r_k}, v_{s_k}, u)), in that order."""

    def __init__(
        self,
        edge_model_fn: ModelFn,
        use_edges: bool = True,
        use_receiver_nodes: bool = True,
        use_sender_nodes: bool = True,
        use_globals: bool = True,
        name: str = "edge_block",
    ):
        """Args:
        edge_model_fn: returns the edge update phi_e, applied to rows of the concatenation.
        use_edges: feed each edge's own features.
        use_receiver_nodes: feed the features of each edge's receiver node.
        use_sender_nodes: feed the features of each edge's sender node.
        use_globals: feed the globals of each edge's graph.

        Raises:
          ValueError: if every `use_*` switch is off.
        """
        super().__init__(name=name)
        self._edge_model_fn = edge_model_fn
        self._use_edges = use_edges
        self._use_receiver_nodes = use_receiver_nodes
        self._use_sender_nodes = use_sender_nodes
        self._use_globals = use_globals
        _require_a_switch(self.switches())

    def switches(self) -> dict[str, tuple[bool, str]]:
        """Each `use_*` switch: (whether it is on, the field it reads)."""
        return {
            "use_edges": (self._use_edges, "edges"),
            "use_receiver_nodes": (self._use_receiver_nodes, "nodes"),
            "use_sender_nodes": (self._use_sender_nodes, "nodes"),
            "use_globals": (self._use_globals, "globals"),
        }

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with its edges replaced by the updated edges."""
        _check_inputs(graph, "EdgeBlock", self.switches())
        parts = []
        if self._use_edges:
            parts.append(Part(graph.edges))
        if self._use_receiver_nodes:
            parts.append(Part(graph.nodes, graph.receivers))
        if self._use_sender_nodes:
            parts.append(Part(graph.nodes, graph.senders))
        if self._use_globals:
            parts.append(_edge_globals_part(graph))
        return graph._replace(edges=apply_model(self._edge_model_fn(), parts))


class NodeBlock(hk.Module):
    """Updates nodes: v'_i = phi_v(concat(rho(received e), rho(sent e), v_i, u)), in that order."""

    def __init__(
        self,
        node_model_fn: ModelFn,
        use_received_edges: bool = True,
        use_sent_edges: bool = False,
        use_nodes: bool = True,
        use_globals: bool = True,
        received_edges_reducer: Reducer | str = segment_sum,
        sent_edges_reducer: Reducer | str = segment_sum,
        name: str = "node_block",
    ):
        """Args:
        node_model_fn: returns the node update phi_v, applied to rows of the concatenation.
        use_received_edges: feed each node the reduction of the edges it receives.
        use_sent_edges: feed each node the reduction of the edges it sends.
        use_nodes: feed each node's own features.
        use_globals: feed the globals of each node's graph.
        received_edges_reducer: reduces received edges per node (a function or a name, see
          the module docstring).
        sent_edges_reducer: reduces sent edges per node.

        Raises:
          ValueError: if every `use_*` switch is off.
        """
        super().__init__(name=name)
        self._node_model_fn = node_model_fn
        self._use_received_edges = use_received_edges
        self._use_sent_edges = use_sent_edges
        self._use_nodes = use_nodes
        self._use_globals = use_globals
        _require_a_switch(self.switches())
        self._received_edges_reducer = resolve_reducer(
            received_edges_reducer, "received_edges_reducer"
        )
        self._sent_edges_reducer = resolve_reducer(sent_edges_reducer, "sent_edges_reducer")

    def switches(self) -> dict[str, tuple[bool, str]]:
        """Each `use_*` switch: (whether it is on, the field it reads)."""
        return {
            "use_received_edges": (self._use_received_edges, "edges"),
            "use_sent_edges": (self._use_sent_edges, "edges"),
            "use_nodes": (self._use_nodes, "nodes"),
            "use_globals": (self._use_globals, "globals"),
        }

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with its nodes replaced by the updated nodes."""
        _check_inputs(graph, "NodeBlock", self.switches())
        parts = []
        if self._use_received_edges:
            parts.append(
                Part(received_edges_to_nodes_aggregate(graph, self._received_edges_reducer))
            )
        if self._use_sent_edges:
            parts.append(Part(sent_edges_to_nodes_aggregate(graph, self._sent_edges_reducer)))
        if self._use_nodes:
            parts.append(Part(graph.nodes))
        if self._use_globals:
            parts.append(Part(graph.globals, node_graph_index(graph)))
        return graph._replace(nodes=apply_model(self._node_model_fn(), parts))


class GlobalBlock(hk.Module):
    """Updates globals: u' = phi_u(concat(rho(E), rho(V), u)), in that order."""

    def __init__(
        self,
        global_model_fn: ModelFn,
        use_edges: bool = True,
        use_nodes: bool = True,
        use_globals: bool = True,
        edges_reducer: Reducer | str = segment_sum,
        nodes_reducer: Reducer | str = segment_sum,
        name: str = "global_block",
    ):
        """Args:
        global_model_fn: returns the global update phi_u, applied to rows of the concatenation.
        use_edges: feed each graph the reduction of its edges.
        use_nodes: feed each graph the reduction of its nodes.
        use_globals: feed each graph's own globals.
        edges_reducer: reduces edges per graph (a function or a name, see the module docstring).
        nodes_reducer: reduces nodes per graph.

        Raises:
          ValueError: if every `use_*` switch is off.
        """
        super().__init__(name=name)
        self._global_model_fn = global_model_fn
        self._use_edges = use_edges
        self._use_nodes = use_nodes
        self._use_globals = use_globals
        _require_a_switch(self.switches())
        self._edges_reducer = resolve_reducer(edges_reducer, "edges_reducer")
        self._nodes_reducer = resolve_reducer(nodes_reducer, "nodes_reducer")

    def switches(self) -> dict[str, tuple[bool, str]]:
        """Each `use_*` switch: (whether it is on, the field it reads)."""
        return {
            "use_edges": (self._use_edges, "edges"),
            "use_nodes": (self._use_nodes, "nodes"),
            "use_globals": (self._use_globals, "globals"),
        }

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with its globals replaced by the updated globals."""
        _check_inputs(graph, "GlobalBlock", self.switches())
        parts = []
        if self._use_edges:
            parts.append(Part(edges_to_globals_aggregate(graph, self._edges_reducer)))
        if self._use_nodes:
            parts.append(Part(nodes_to_globals_aggregate(graph, self._nodes_reducer)))
        if self._use_globals:
            parts.append(Part(graph.globals))
        return graph._replace(globals=apply_model(self._global_model_fn(), parts))
