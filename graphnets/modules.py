"""Graph network modules built from the blocks, named after DeepMind's `graph_nets.modules`.

Every module maps a `jraph.GraphsTuple` to a `jraph.GraphsTuple` (SelfAttention
also takes per-node values, keys and queries) and takes model factories like
the blocks (see `graphnets.blocks`); a `reducer` may be a function or its name
("sum", "mean", "max", "min"). A module that needs a field the graph lacks
says so, and which switch or `graphnets.with_default_fields` fixes it.

The attention modules (`SelfAttention`, `GAT`, `HeadwiseAttentionLogits`) live
in `graphnets.attention` and are re-exported here, with the rest of the family.
"""

from collections.abc import Mapping
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import jraph

from graphnets import blocks, utils

# Re-exported (the `X as X` form), so that the whole family is reachable as `graphnets.modules.X`.
from graphnets.attention import GAT as GAT
from graphnets.attention import HeadwiseAttentionLogits as HeadwiseAttentionLogits
from graphnets.attention import SelfAttention as SelfAttention
from graphnets.blocks import (
    ModelFn,
    Reducer,
    add_self_edges,
    require_nodes,
    resolve_reducer,
    segment_sum,
)


def _with_default_reducers(
    options: Mapping[str, Any] | None, reducer: Reducer, keys: tuple[str, ...]
) -> dict[str, Any]:
    """Block options where every reducer not set explicitly is `reducer`."""
    options = dict(options or {})
    for key in keys:
        options.setdefault(key, reducer)
    return options


class GraphNetwork(hk.Module):
    """A full GN block: EdgeBlock, then NodeBlock, then GlobalBlock."""

    def __init__(
        self,
        edge_model_fn: ModelFn,
        node_model_fn: ModelFn,
        global_model_fn: ModelFn,
        reducer: Reducer | str = segment_sum,
        edge_block_opt: Mapping[str, Any] | None = None,
        node_block_opt: Mapping[str, Any] | None = None,
        global_block_opt: Mapping[str, Any] | None = None,
        name: str = "graph_network",
    ):
        """Args:
        edge_model_fn, node_model_fn, global_model_fn: factories of the three update functions.
        reducer: default for every aggregation (edges to nodes, edges and nodes to globals).
        edge_block_opt, node_block_opt, global_block_opt: extra keyword arguments of each
          block (`use_*` switches, reducers); reducers given here override `reducer`.

        By default every block reads edges, nodes and globals; for a graph
        without some of them, switch those inputs off here or fill the graph
        with `graphnets.with_default_fields`. A call on such a graph raises one
        ValueError naming every switch involved.
        """
        super().__init__(name=name)
        reducer = resolve_reducer(reducer, "reducer")
        node_block_opt = _with_default_reducers(
            node_block_opt, reducer, ("received_edges_reducer", "sent_edges_reducer")
        )
        global_block_opt = _with_default_reducers(
            global_block_opt, reducer, ("edges_reducer", "nodes_reducer")
        )
        self._edge_block = blocks.EdgeBlock(edge_model_fn, **dict(edge_block_opt or {}))
        self._node_block = blocks.NodeBlock(node_model_fn, **node_block_opt)
        self._global_block = blocks.GlobalBlock(global_model_fn, **global_block_opt)

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns the graph with edges, nodes and globals updated in turn."""
        self._check_fields(graph)
        return self._global_block(self._node_block(self._edge_block(graph)))

    def _check_fields(self, graph: jraph.GraphsTuple) -> None:
        """Raises one ValueError listing every switched-on input the graph lacks, with the fixes."""
        present = blocks.present_fields(graph)
        missing_fields: set[str] = set()
        fixes: list[str] = []
        for block, option, output in (
            (self._edge_block, "edge_block_opt", "edges"),
            (self._node_block, "node_block_opt", "nodes"),
            (self._global_block, "global_block_opt", "globals"),
        ):
            missing = blocks.missing_inputs(block.switches(), present)
            if missing:
                missing_fields.update(field for _, field in missing)
                fixes.append(
                    f"{option}={{{', '.join(f'{switch!r}: False' for switch, _ in missing)}}}"
                )
            present.add(output)
        if fixes:
            fields = " and ".join(
                f"graph.{field}" for field in utils.FEATURE_FIELDS if field in missing_fields
            )
            raise ValueError(
                f"GraphNetwork reads {fields}, which the graph lacks (None): fill them with zeros "
                f"by graphnets.with_default_fields(graph), or switch them off with "
                f"{', '.join(fixes)}."
            )


class GraphIndependent(hk.Module):
    """Applies a model to each field separately; a field without a model passes through."""

    def __init__(
        self,
        edge_model_fn: ModelFn | None = None,
        node_model_fn: ModelFn | None = None,
        global_model_fn: ModelFn | None = None,
        name: str = "graph_independent",
    ):
        """Args:
        edge_model_fn, node_model_fn, global_model_fn: factories of the per-row models of
          each field; None leaves that field as it is.
        """
        super().__init__(name=name)
        self._edge_model_fn = edge_model_fn
        self._node_model_fn = node_model_fn
        self._global_model_fn = global_model_fn

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns the graph with each modelled, present field replaced by its model's output."""
        return graph._replace(
            edges=_apply_if(self._edge_model_fn, graph.edges, "edge_model"),
            nodes=_apply_if(self._node_model_fn, graph.nodes, "node_model"),
            globals=_apply_if(self._global_model_fn, graph.globals, "global_model"),
        )


def _apply_if(model_fn: ModelFn | None, field: jax.Array | None, scope: str) -> jax.Array | None:
    """`model_fn()(field)` inside a name scope, or `field` if either is None."""
    if model_fn is None or field is None:
        return field
    with hk.name_scope(scope):
        return model_fn()(jnp.asarray(field))


class InteractionNetwork(hk.Module):
    """Interaction network (Battaglia et al. 2016): edges from edges and both nodes, then nodes."""

    def __init__(
        self,
        edge_model_fn: ModelFn,
        node_model_fn: ModelFn,
        reducer: Reducer | str = segment_sum,
        name: str = "interaction_network",
    ):
        """Args:
        edge_model_fn: factory of phi_e, applied to [edge, receiver, sender].
        node_model_fn: factory of phi_v, applied to [reduced received edges, node].
        reducer: reduces each node's received edges.
        """
        super().__init__(name=name)
        self._edge_block = blocks.EdgeBlock(edge_model_fn, use_globals=False)
        self._node_block = blocks.NodeBlock(
            node_model_fn,
            use_globals=False,
            received_edges_reducer=resolve_reducer(reducer, "reducer"),
        )

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns the graph with edges and nodes updated; globals untouched."""
        return self._node_block(self._edge_block(graph))


class RelationNetwork(hk.Module):
    """Relation network (Santoro et al. 2017): globals from the reduced pairwise relations."""

    def __init__(
        self,
        edge_model_fn: ModelFn,
        global_model_fn: ModelFn,
        reducer: Reducer | str = segment_sum,
        use_globals: bool = False,
        name: str = "relation_network",
    ):
        """Args:
        edge_model_fn: factory of the relation model, applied to [receiver, sender] of each edge,
          or to [receiver, sender, globals] with `use_globals`.
        global_model_fn: factory of the global model, applied to the reduced relations.
        reducer: reduces each graph's relations.
        use_globals: condition every relation on its graph's globals, as Santoro et al.'s
          question answering model conditions g on the question (graph_nets' module does not).
        """
        super().__init__(name=name)
        self._edge_block = blocks.EdgeBlock(edge_model_fn, use_edges=False,
                                            use_globals=use_globals)
        self._global_block = blocks.GlobalBlock(
            global_model_fn,
            use_nodes=False,
            use_globals=False,
            edges_reducer=resolve_reducer(reducer, "reducer"),
        )

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with only its globals replaced."""
        return graph._replace(globals=self._global_block(self._edge_block(graph)).globals)


class DeepSets(hk.Module):
    """Deep sets (Zaheer et al. 2017): nodes from themselves and globals, globals from nodes."""

    def __init__(
        self,
        node_model_fn: ModelFn,
        global_model_fn: ModelFn,
        reducer: Reducer | str = segment_sum,
        name: str = "deep_sets",
    ):
        """Args:
        node_model_fn: factory of the node model, applied to [node, globals].
        global_model_fn: factory of the global model, applied to the reduced nodes.
        reducer: reduces each graph's nodes.
        """
        super().__init__(name=name)
        self._node_block = blocks.NodeBlock(node_model_fn, use_received_edges=False)
        self._global_block = blocks.GlobalBlock(
            global_model_fn,
            use_edges=False,
            use_globals=False,
            nodes_reducer=resolve_reducer(reducer, "reducer"),
        )

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns the graph with nodes and globals updated; edges untouched."""
        return self._global_block(self._node_block(graph))


class CommNet(hk.Module):
    """CommNet (Sukhbaatar et al. 2016) as in graph_nets.

    Messages are computed from senders alone, nodes are encoded on their own,
    and the new nodes combine the encoding with the reduced received messages.
    Only the nodes of the input graph are replaced.
    """

    def __init__(
        self,
        edge_model_fn: ModelFn,
        node_encoder_model_fn: ModelFn,
        node_model_fn: ModelFn,
        reducer: Reducer | str = segment_sum,
        name: str = "comm_net",
    ):
        """Args:
        edge_model_fn: factory of the message model, applied to each edge's sender.
        node_encoder_model_fn: factory of the node encoder, applied to each node.
        node_model_fn: factory of the node model, applied to [reduced received messages,
          encoded node].
        reducer: reduces each node's received messages.
        """
        super().__init__(name=name)
        self._edge_block = blocks.EdgeBlock(
            edge_model_fn, use_edges=False, use_receiver_nodes=False, use_globals=False
        )
        self._node_encoder_block = blocks.NodeBlock(
            node_encoder_model_fn,
            use_received_edges=False,
            use_globals=False,
            name="node_encoder_block",
        )
        self._node_block = blocks.NodeBlock(
            node_model_fn,
            use_globals=False,
            received_edges_reducer=resolve_reducer(reducer, "reducer"),
        )

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with only its nodes replaced."""
        encoded = self._node_encoder_block(self._edge_block(graph))
        return graph._replace(nodes=self._node_block(encoded).nodes)


class GraphConvolution(hk.Module):
    """Graph convolution (Kipf & Welling 2017): transform nodes, then sum over received edges.

    With symmetric normalization a message from s to r is scaled by
    1 / sqrt(deg_out(s) * deg_in(r)) (degrees counted after adding self-edges;
    isolated nodes count as degree 1). Edges and globals pass through untouched.
    """

    def __init__(
        self,
        node_model_fn: ModelFn,
        add_self_edges: bool = False,
        symmetric_normalization: bool = True,
        name: str = "graph_convolution",
    ):
        """Args:
        node_model_fn: factory of the node transform applied before aggregation (e.g. a linear
          layer).
        add_self_edges: also send every node's message to itself.
        symmetric_normalization: scale messages by 1 / sqrt(deg_out(sender) * deg_in(receiver)).
        """
        super().__init__(name=name)
        self._node_model_fn = node_model_fn
        self._add_self_edges = add_self_edges
        self._symmetric_normalization = symmetric_normalization

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with its nodes replaced by the convolved nodes."""
        require_nodes(graph, "GraphConvolution")
        with hk.name_scope("node_model"):
            nodes = self._node_model_fn()(jnp.asarray(graph.nodes))
        conv_graph = add_self_edges(graph) if self._add_self_edges else graph
        senders, receivers = conv_graph.senders, conv_graph.receivers
        total_nodes = nodes.shape[0]
        messages = nodes[senders]
        if self._symmetric_normalization:
            ones = jnp.ones(senders.shape, nodes.dtype)
            out_degree = jnp.maximum(segment_sum(ones, senders, total_nodes), 1.0)
            in_degree = jnp.maximum(segment_sum(ones, receivers, total_nodes), 1.0)
            scale = jax.lax.rsqrt(out_degree[senders] * in_degree[receivers])
            messages = messages * scale.reshape(scale.shape + (1,) * (messages.ndim - 1))
        return graph._replace(nodes=segment_sum(messages, receivers, total_nodes))
