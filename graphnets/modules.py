"""Graph network modules built from the blocks, named after DeepMind's `graph_nets.modules`.

Every module maps a `jraph.GraphsTuple` to a `jraph.GraphsTuple` (SelfAttention
also takes per-node values, keys and queries) and takes model factories like
the blocks (see `graphnets.blocks`); a `reducer` may be a function or its name
("sum", "mean", "max", "min"). A module that needs a field the graph lacks
says so, and which switch or `graphnets.with_default_fields` fixes it.
"""

from collections.abc import Mapping
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import jraph

from graphnets import blocks, utils
from graphnets.blocks import ModelFn, Reducer, resolve_reducer, segment_softmax, segment_sum


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

    def __call__(
        self,
        node_values: jax.Array,
        node_keys: jax.Array,
        node_queries: jax.Array,
        attention_graph: jraph.GraphsTuple,
    ) -> jraph.GraphsTuple:
        """Args:
        node_values: [num_nodes, num_heads, value_size].
        node_keys, node_queries: [num_nodes, num_heads, key_size].
        attention_graph: gives senders, receivers and n_node; its features are ignored.

        Returns:
          `attention_graph` with nodes [num_nodes, num_heads, value_size] replaced by the
          attended values.
        """
        utils.check_shapes(attention_graph, "attention_graph")
        node_values, node_keys, node_queries = map(
            jnp.asarray, (node_values, node_keys, node_queries)
        )
        for name, array in (
            ("node_values", node_values),
            ("node_keys", node_keys),
            ("node_queries", node_queries),
        ):
            if array.ndim != 3 or array.shape[:2] != node_values.shape[:2]:
                raise ValueError(
                    f"{name} has shape {array.shape} but must be [num_nodes, num_heads, size] "
                    f"with the num_nodes and num_heads of node_values {node_values.shape}."
                )
        if node_keys.shape != node_queries.shape:
            raise ValueError(
                f"node_keys has shape {node_keys.shape} but node_queries has {node_queries.shape}; "
                "they must match."
            )
        senders, receivers = attention_graph.senders, attention_graph.receivers
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


def _require_nodes(graph: jraph.GraphsTuple, module: str) -> None:
    """Checks static shapes, and that the graph has the node features a module transforms."""
    utils.check_shapes(graph)
    if graph.nodes is None:
        raise ValueError(
            f"{module} transforms graph.nodes but it is None; give the graph node features "
            "(graphnets.with_default_fields(graph) adds one zero feature per node)."
        )


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
        _require_nodes(graph, "GraphConvolution")
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


class HeadwiseAttentionLogits(hk.Module):
    """GAT's attention logits: LeakyReLU(<a_h, x_{k,h}>) with its own vector a_h per head.

    Maps [num_edges, num_heads, 2 * size] to [num_edges, num_heads] (and
    [num_edges, 2 * size] to [num_edges, 1] for a single head). The
    parameter `attention` has shape [num_heads, 2 * size].
    """

    def __init__(self, negative_slope: float = 0.2, name: str = "headwise_attention_logits"):
        """Args:
        negative_slope: slope of the LeakyReLU for negative scores (0.2 in the GAT paper).
        """
        super().__init__(name=name)
        self._negative_slope = negative_slope

    def __call__(self, pairs: jax.Array) -> jax.Array:
        heads = pairs[:, None] if pairs.ndim == 2 else pairs
        size = heads.shape[-1]
        attention = hk.get_parameter(
            "attention",
            [heads.shape[1], size],
            heads.dtype,
            init=hk.initializers.TruncatedNormal(stddev=1.0 / size**0.5),
        )
        return jax.nn.leaky_relu(jnp.sum(heads * attention, axis=-1), self._negative_slope)


def _logits_per_head(logits: jax.Array, sent: jax.Array, pairs: jax.Array) -> jax.Array:
    """The logit model's output as [num_edges, num_heads, 1] (1 head for 2-d queries)."""
    heads_shape = sent.shape[:-1]
    if logits.shape not in (heads_shape, heads_shape + (1,)):
        raise ValueError(
            f"GAT's logit model maps its input of shape {pairs.shape} (concatenated sender and "
            f"receiver projections) to shape {logits.shape} but must return one logit per edge and "
            "head, shape "
            f"{heads_shape} or {heads_shape + (1,)}; logit_model_fn=None gives each head its own "
            "attention vector (HeadwiseAttentionLogits)."
        )
    logits = logits.reshape(heads_shape + (1,))
    return logits if sent.ndim == 3 else logits[:, None]


class GAT(hk.Module):
    """Graph attention (Velickovic et al. 2018), with one or several heads.

    Nodes are projected by the query model to [num_nodes, size] (one head) or
    [num_nodes, num_heads, size]. Each edge k gets one attention logit per head
    from the logit model, which receives concat(projected sender, projected
    receiver) along the last axis: [num_edges, 2 * size], or
    [num_edges, num_heads, 2 * size] with heads, and must return
    [num_edges] or [num_edges, 1], or [num_edges, num_heads] or
    [num_edges, num_heads, 1] with heads. By default (`logit_model_fn=None`)
    it is `HeadwiseAttentionLogits`, the paper's LeakyReLU of a learned vector
    per head. The logits are softmaxed per head over each receiver's incoming
    edges and weight the projected senders, which are summed per receiver
    (output [num_nodes, size] or [num_nodes, num_heads, size]) and passed
    through the optional node model. A node without incoming edges gets zeros.
    """

    def __init__(
        self,
        query_model_fn: ModelFn,
        logit_model_fn: ModelFn | None = None,
        node_model_fn: ModelFn | None = None,
        add_self_edges: bool = False,
        name: str = "gat",
    ):
        """Args:
        query_model_fn: factory of the node projection.
        logit_model_fn: factory of the attention logit model (signature in the class docstring), or
          None for `HeadwiseAttentionLogits`.
        node_model_fn: factory of an optional model applied to the attended nodes.
        add_self_edges: let every node attend to itself too.
        """
        super().__init__(name=name)
        self._query_model_fn = query_model_fn
        self._logit_model_fn = (
            logit_model_fn if logit_model_fn is not None else HeadwiseAttentionLogits
        )
        self._node_model_fn = node_model_fn
        self._add_self_edges = add_self_edges

    def __call__(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Returns `graph` with its nodes replaced by the attended nodes."""
        _require_nodes(graph, "GAT")
        with hk.name_scope("query_model"):
            queries = self._query_model_fn()(jnp.asarray(graph.nodes))
        if queries.ndim not in (2, 3):
            raise ValueError(
                f"GAT's query model returned shape {queries.shape} but must return "
                "[num_nodes, size] or [num_nodes, num_heads, size]."
            )
        att_graph = add_self_edges(graph) if self._add_self_edges else graph
        senders, receivers = att_graph.senders, att_graph.receivers
        total_nodes = queries.shape[0]
        sent, received = queries[senders], queries[receivers]
        pairs = jnp.concatenate([sent, received], axis=-1)
        with hk.name_scope("logit_model"):
            logits = _logits_per_head(self._logit_model_fn()(pairs), sent, pairs)
        weights = segment_softmax(logits, receivers, total_nodes)
        heads = sent if sent.ndim == 3 else sent[:, None]
        nodes = segment_sum(heads * weights, receivers, total_nodes)
        nodes = nodes if sent.ndim == 3 else nodes[:, 0]
        if self._node_model_fn is not None:
            with hk.name_scope("node_model"):
                nodes = self._node_model_fn()(nodes)
        return graph._replace(nodes=nodes)
