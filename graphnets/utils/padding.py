"""Padding a batch to fixed sizes, so that compiled code sees few shapes: `pad_to`, the masks
of the real graphs, nodes and edges, and `pad_to_bucket`'s power-of-two sizes."""

from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from graphnets.utils.validation import (
    _as_count,
    _is_concrete,
    check_shapes,
    num_node_rows,
    validate,
)


def _pad_rows(values: Any, rows: int, xp: Any, fill: int = 0) -> Any:
    """`values` with `rows` rows of `fill` appended."""
    if values is None:
        return None
    padding = [(0, rows)] + [(0, 0)] * (values.ndim - 1)
    return xp.pad(values, padding, constant_values=fill)


def pad_to(
    graph: jraph.GraphsTuple, num_nodes: int, num_edges: int, num_graphs: int
) -> jraph.GraphsTuple:
    """Pads a batch to exactly `num_nodes` nodes, `num_edges` edges and `num_graphs` graphs.

    Padding is appended after the real graphs: the first padding graph holds all
    padding nodes and edges (edges from and to its first node), further padding
    graphs are empty; padded features are zeros. Because padding lives in its
    own graphs, it never enters the reductions of real nodes or graphs, so
    real outputs do not change. Needs at least one padding graph, and a padding
    node whenever edges are padded. With exactly one padding graph the layout
    is jraph's (`jraph.pad_with_graphs`), so jraph's padding masks apply too,
    and so do `graph_mask` / `node_mask` / `edge_mask` without
    `num_real_graphs`; with more, pass them `num_real_graphs`.

    Jittable (works on traced arrays; sizes are static). Concrete inputs are
    validated first; traced ones cannot be, so validate at the data boundary.
    Numpy input gives numpy output.
    """
    num_nodes, num_edges = _as_count(num_nodes, "num_nodes"), _as_count(num_edges, "num_edges")
    num_graphs = _as_count(num_graphs, "num_graphs")
    if _is_concrete(graph):
        validate(graph)
    else:
        check_shapes(graph)
    real_nodes, real_edges, real_graphs = (
        num_node_rows(graph),
        graph.senders.shape[0],
        graph.n_node.shape[0],
    )
    extra_nodes, extra_edges, extra_graphs = (
        num_nodes - real_nodes,
        num_edges - real_edges,
        num_graphs - real_graphs,
    )
    if extra_nodes < 0 or extra_edges < 0 or extra_graphs < 1:
        raise ValueError(
            f"Cannot pad {real_nodes} nodes, {real_edges} edges, {real_graphs} graphs to "
            f"{num_nodes}, {num_edges}, {num_graphs}: sizes may not shrink and one padding graph "
            "is needed."
        )
    if extra_edges > 0 and extra_nodes == 0:
        raise ValueError(
            f"Padding edges needs a padding node but num_nodes equals the {real_nodes} real nodes."
        )
    xp = (
        np
        if all(isinstance(leaf, np.ndarray) for leaf in jax.tree_util.tree_leaves(graph))
        else jnp
    )
    counts_dtype = graph.n_node.dtype
    padding_counts = lambda extra: xp.asarray([extra] + [0] * (extra_graphs - 1), counts_dtype)
    return jraph.GraphsTuple(
        nodes=_pad_rows(graph.nodes, extra_nodes, xp),
        edges=_pad_rows(graph.edges, extra_edges, xp),
        globals=_pad_rows(graph.globals, extra_graphs, xp),
        senders=_pad_rows(graph.senders, extra_edges, xp, fill=real_nodes),
        receivers=_pad_rows(graph.receivers, extra_edges, xp, fill=real_nodes),
        n_node=xp.concatenate([graph.n_node, padding_counts(extra_nodes)]),
        n_edge=xp.concatenate([graph.n_edge.astype(counts_dtype), padding_counts(extra_edges)]),
    )


def _check_last_graph_is_padding(graph: jraph.GraphsTuple) -> None:
    """Refuses a concrete batch whose last graph has an edge other than a loop on its first node."""
    n_edge, senders, receivers = (
        np.asarray(x) for x in (graph.n_edge, graph.senders, graph.receivers)
    )
    first_node = int(np.sum(np.asarray(graph.n_node)[:-1], dtype=np.int64))
    last_edges = slice(len(senders) - int(n_edge[-1]), len(senders))
    if ((senders[last_edges] != first_node) | (receivers[last_edges] != first_node)).any():
        raise ValueError(
            f"num_real_graphs is None, which takes the last of the {len(n_edge)} graphs as "
            "padding, but it has edges that pad_to's padding cannot have (the graph is not "
            "padded?); pass num_real_graphs, the number of real graphs."
        )


def graph_mask(
    graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None
) -> jax.Array:
    """True for the real graphs of a padded batch, False for padding graphs.

    The real graphs are the first `num_real_graphs`. Without it (None) the last
    graph is taken to be padding and all others real: the layout of `pad_to`
    with `num_graphs` one more than the real graphs, and jraph's convention.
    Pass `num_real_graphs` for any other batch (an unpadded one, or `pad_to`
    with several padding graphs as `pad_to_bucket` makes). None is refused for
    a batch of fewer than two graphs, and, on concrete graphs, when the last
    graph has an edge that does not join its first node to itself (pad_to's
    padding edges do). Jittable; `num_real_graphs` may be traced.
    """
    total_graphs = graph.n_node.shape[0]
    if num_real_graphs is None:
        if total_graphs < 2:
            raise ValueError(
                f"num_real_graphs is None, which takes the last graph as padding, but the batch "
                f"has {total_graphs} graph(s); pass num_real_graphs, the number of real graphs."
            )
        if _is_concrete(graph):
            _check_last_graph_is_padding(graph)
        num_real_graphs = total_graphs - 1
    elif not isinstance(num_real_graphs, jax.core.Tracer):
        value = np.asarray(num_real_graphs)
        if (
            value.ndim != 0
            or not np.issubdtype(value.dtype, np.integer)
            or not 0 <= value <= total_graphs
        ):
            raise ValueError(
                f"num_real_graphs is {num_real_graphs!r} but must be an integer from 0 to the "
                f"{total_graphs} graphs of the batch."
            )
    return jnp.arange(total_graphs) < num_real_graphs


def node_mask(
    graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None
) -> jax.Array:
    """True for the nodes of the real graphs of a padded batch (default: see `graph_mask`)."""
    total_nodes = num_node_rows(graph)
    return jnp.repeat(
        graph_mask(graph, num_real_graphs), graph.n_node, total_repeat_length=total_nodes
    )


def edge_mask(
    graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None
) -> jax.Array:
    """True for the edges of the real graphs of a padded batch (default: see `graph_mask`)."""
    total_edges = graph.senders.shape[0]
    return jnp.repeat(
        graph_mask(graph, num_real_graphs), graph.n_edge, total_repeat_length=total_edges
    )


def next_power_of_two(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(int(n) - 1, 0).bit_length()


def bucket_sizes(graph: jraph.GraphsTuple) -> tuple[int, int, int]:
    """(num_nodes, num_edges, num_graphs) budgets: the next powers of two that fit the padding.

    Batches of similar size share a bucket, so a stream of varying batches
    compiles O(log(max size)) times instead of once per shape.
    """
    check_shapes(graph)
    real_nodes, real_edges, real_graphs = (
        num_node_rows(graph),
        graph.senders.shape[0],
        graph.n_node.shape[0],
    )
    return (
        next_power_of_two(real_nodes + 1),
        next_power_of_two(real_edges),
        next_power_of_two(real_graphs + 1),
    )


def pad_to_bucket(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """`pad_to(graph, *bucket_sizes(graph))`.

    It may add several padding graphs, so pass the masks `num_real_graphs`.
    """
    return pad_to(graph, *bucket_sizes(graph))
