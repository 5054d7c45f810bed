"""Attention over a graph's edges: `SelfAttention` (no parameters: per-node values, keys and
queries given, as in graph_nets) and `GAT` (graph attention) with its default logit model
`HeadwiseAttentionLogits`. `graphnets.modules` re-exports them with the rest of the family.
"""

import haiku as hk
import jax
import jax.numpy as jnp
import jraph

from graphnets import utils
from graphnets.blocks import ModelFn, add_self_edges, require_nodes, segment_softmax, segment_sum


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
        require_nodes(graph, "GAT")
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
