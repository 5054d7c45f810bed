"""Graph network modules built from the blocks, named after DeepMind's `graph_nets.modules`.

Every module maps a `jraph.GraphsTuple` to a `jraph.GraphsTuple` (SelfAttention
also takes per-node values, keys and queries) and takes model factories like
the blocks (see `graphnets.blocks`).
"""

from collections.abc import Mapping
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import jraph

from graphnets import blocks
from graphnets.blocks import ModelFn, Reducer, segment_softmax, segment_sum


def _with_default_reducers(options: Mapping[str, Any] | None, reducer: Reducer, keys: tuple[str, ...]) -> dict[str, Any]:
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
        reducer: Reducer = segment_sum,
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
        """
        super().__init__(name=name)
        node_block_opt = _with_default_reducers(node_block_opt, reducer, ("received_edges_reducer", "sent_edges_reducer"))
        global_block_opt = _with_default_reducers(global_block_opt, reducer, ("edges_reducer", "nodes_reducer"))
        self._edge_block = blocks.EdgeBlock(edge_model_fn, **dict(edge_block_opt or {}))
        self._node_block = blocks.NodeBlock(node_model_fn, **node_block_opt)
        self._global_block = blocks.GlobalBlock(global_model_fn, **global_block_opt)

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns the graph with edges, nodes and globals updated in turn."""
        return self._global_block(self._node_block(self._edge_block(graph)))


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
        return model_fn()(field)


class InteractionNetwork(hk.Module):
    """Interaction network (Battaglia et al. 2016): edges from edges and both nodes, then nodes."""

    def __init__(self, edge_model_fn: ModelFn, node_model_fn: ModelFn, reducer: Reducer = segment_sum,
                 name: str = "interaction_network"):
        """Args:
        edge_model_fn: factory of phi_e, applied to [edge, receiver, sender].
        node_model_fn: factory of phi_v, applied to [reduced received edges, node].
        reducer: reduces each node's received edges.
        """
        super().__init__(name=name)
        self._edge_block = blocks.EdgeBlock(edge_model_fn, use_globals=False)
        self._node_block = blocks.NodeBlock(node_model_fn, use_sent_edges=False, use_globals=False,
                                            received_edges_reducer=reducer)

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns the graph with edges and nodes updated; globals untouched."""
        return self._node_block(self._edge_block(graph))


class RelationNetwork(hk.Module):
    """Relation network (Santoro et al. 2017): globals from the reduced pairwise relations."""

    def __init__(self, edge_model_fn: ModelFn, global_model_fn: ModelFn, reducer: Reducer = segment_sum,
                 name: str = "relation_network"):
        """Args:
        edge_model_fn: factory of the relation model, applied to [receiver, sender] of each edge.
        global_model_fn: factory of the global model, applied to the reduced relations.
        reducer: reduces each graph's relations.
        """
        super().__init__(name=name)
        self._edge_block = blocks.EdgeBlock(edge_model_fn, use_edges=False, use_receiver_nodes=True,
                                            use_sender_nodes=True, use_globals=False)
        self._global_block = blocks.GlobalBlock(global_model_fn, use_edges=True, use_nodes=False,
                                                use_globals=False, edges_reducer=reducer)

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with only its globals replaced."""
        return graph._replace(globals=self._global_block(self._edge_block(graph)).globals)


class DeepSets(hk.Module):
    """Deep sets (Zaheer et al. 2017): nodes from themselves and globals, globals from reduced nodes."""

    def __init__(self, node_model_fn: ModelFn, global_model_fn: ModelFn, reducer: Reducer = segment_sum,
                 name: str = "deep_sets"):
        """Args:
        node_model_fn: factory of the node model, applied to [node, globals].
        global_model_fn: factory of the global model, applied to the reduced nodes.
        reducer: reduces each graph's nodes.
        """
        super().__init__(name=name)
        self._node_block = blocks.NodeBlock(node_model_fn, use_received_edges=False, use_sent_edges=False,
                                            use_nodes=True, use_globals=True)
        self._global_block = blocks.GlobalBlock(global_model_fn, use_edges=False, use_nodes=True,
                                                use_globals=False, nodes_reducer=reducer)

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns the graph with nodes and globals updated; edges untouched."""
        return self._global_block(self._node_block(graph))


class CommNet(hk.Module):
    """CommNet (Sukhbaatar et al. 2016) as in graph_nets.

    Messages are computed from senders alone, nodes are encoded on their own,
    and the new nodes combine the encoding with the reduced received messages.
    Only the nodes of the input graph are replaced.
    """

    def __init__(self, edge_model_fn: ModelFn, node_encoder_model_fn: ModelFn, node_model_fn: ModelFn,
                 reducer: Reducer = segment_sum, name: str = "comm_net"):
        """Args:
        edge_model_fn: factory of the message model, applied to each edge's sender.
        node_encoder_model_fn: factory of the node encoder, applied to each node.
        node_model_fn: factory of the node model, applied to [reduced received messages, encoded node].
        reducer: reduces each node's received messages.
        """
        super().__init__(name=name)
        self._edge_block = blocks.EdgeBlock(edge_model_fn, use_edges=False, use_receiver_nodes=False,
                                            use_sender_nodes=True, use_globals=False)
        self._node_encoder_block = blocks.NodeBlock(node_encoder_model_fn, use_received_edges=False,
                                                    use_sent_edges=False, use_nodes=True, use_globals=False,
                                                    name="node_encoder_block")
        self._node_block = blocks.NodeBlock(node_model_fn, use_received_edges=True, use_sent_edges=False,
                                            use_nodes=True, use_globals=False, received_edges_reducer=reducer)

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with only its nodes replaced."""
        encoded = self._node_encoder_block(self._edge_block(graph))
        return graph._replace(nodes=self._node_block(encoded).nodes)


class SelfAttention(hk.Module):
    """Multi-head self-attention over a graph's edges (Vaswani et al. 2017), as in graph_nets.

    Each receiver attends over its senders: for head h,
    w_k = softmax over edges k into r of <q_{r,h}, key_{s_k,h}>, and the new
    node r is sum_k w_k value_{s_k,h}. As in graph_nets the logits are not
    scaled; scale the queries if you want 1/sqrt(d). A node with no incoming
    edge gets zeros. The module has no parameters: project values, keys and
    queries beforehand.
    """

    def __init__(self, name: str = "self_attention"):
        super().__init__(name=name)

    def __call__(self, node_values: jax.Array, node_keys: jax.Array, node_queries: jax.Array,
                 attention_graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Args:
        node_values: [num_nodes, num_heads, value_size].
        node_keys, node_queries: [num_nodes, num_heads, key_size].
        attention_graph: gives senders, receivers and n_node; its features are ignored.

        Returns:
          `attention_graph` with nodes [num_nodes, num_heads, value_size] replaced by the attended values.
        """
        senders, receivers = attention_graph.senders, attention_graph.receivers
        node_values, node_keys, node_queries = map(jnp.asarray, (node_values, node_keys, node_queries))
        total_nodes = node_values.shape[0]
        logits = jnp.sum(node_keys[senders] * node_queries[receivers], axis=-1)
        weights = segment_softmax(logits, receivers, total_nodes)
        messages = node_values[senders] * weights[..., None]
        return attention_graph._replace(nodes=segment_sum(messages, receivers, total_nodes))


def add_self_edges(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """Appends an edge i -> i for every node (edge features are dropped)."""
    total_nodes = blocks.num_nodes(graph)
    loops = jnp.arange(total_nodes, dtype=graph.senders.dtype)
    return graph._replace(
        senders=jnp.concatenate([graph.senders, loops]),
        receivers=jnp.concatenate([graph.receivers, loops]),
        n_edge=graph.n_edge + graph.n_node,
        edges=None,
    )


class GraphConvolution(hk.Module):
    """Graph convolution (Kipf & Welling 2017): transform nodes, then sum over received edges.

    With symmetric normalisation a message from s to r is scaled by
    1 / sqrt(deg_out(s) * deg_in(r)) (degrees counted after adding self-edges;
    isolated nodes count as degree 1). Edges and globals pass through untouched.
    """

    def __init__(self, node_model_fn: ModelFn, add_self_edges: bool = False, symmetric_normalization: bool = True,
                 name: str = "graph_convolution"):
        """Args:
        node_model_fn: factory of the node transform applied before aggregation (e.g. a linear layer).
        add_self_edges: also send every node's message to itself.
        symmetric_normalization: scale messages by 1 / sqrt(deg_out(sender) * deg_in(receiver)).
        """
        super().__init__(name=name)
        self._node_model_fn = node_model_fn
        self._add_self_edges = add_self_edges
        self._symmetric_normalization = symmetric_normalization

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with its nodes replaced by the convolved nodes."""
        with hk.name_scope("node_model"):
            nodes = self._node_model_fn()(graph.nodes)
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


class GAT(hk.Module):
    """Graph attention (Velickovic et al. 2018).

    Nodes are projected by the query model; each edge's logits come from the
    logit model applied to concat(projected sender, projected receiver); the
    logits are softmaxed over each receiver's incoming edges and weight the
    projected senders, which are summed per receiver and passed through the
    optional node model. For multiple heads make the logit model output
    [num_edges, num_heads] and the query model [num_nodes, num_heads, size].
    """

    def __init__(self, query_model_fn: ModelFn, logit_model_fn: ModelFn, node_model_fn: ModelFn | None = None,
                 add_self_edges: bool = False, name: str = "gat"):
        """Args:
        query_model_fn: factory of the node projection.
        logit_model_fn: factory of the attention logit model, applied to [sender, receiver] projections.
        node_model_fn: factory of an optional model applied to the attended nodes.
        add_self_edges: let every node attend to itself too.
        """
        super().__init__(name=name)
        self._query_model_fn = query_model_fn
        self._logit_model_fn = logit_model_fn
        self._node_model_fn = node_model_fn
        self._add_self_edges = add_self_edges

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with its nodes replaced by the attended nodes."""
        with hk.name_scope("query_model"):
            queries = self._query_model_fn()(graph.nodes)
        att_graph = add_self_edges(graph) if self._add_self_edges else graph
        senders, receivers = att_graph.senders, att_graph.receivers
        total_nodes = queries.shape[0]
        sent, received = queries[senders], queries[receivers]
        with hk.name_scope("logit_model"):
            logits = self._logit_model_fn()(jnp.concatenate([sent, received], axis=-1))
        weights = segment_softmax(logits, receivers, total_nodes)
        weights = weights.reshape(weights.shape + (1,) * (sent.ndim - weights.ndim))
        nodes = segment_sum(sent * weights, receivers, total_nodes)
        if self._node_model_fn is not None:
            with hk.name_scope("node_model"):
                nodes = self._node_model_fn()(nodes)
        return graph._replace(nodes=nodes)

