"""Bad inputs refused by a ValueError naming the field; empty, one-node, no-edge graphs working."""

import copy
import warnings

import gn_reference as ref
import gn_testing
import haiku as hk
import jax
import jax.numpy as jnp
import jraph
import networkx as nx
import numpy as np
import pytest

import graphnets as gn
from graphnets import layers, utils

MLP = gn.make_mlp([4])


def _edgeless(n_node: int, edge_width: int | None = 2) -> jraph.GraphsTuple:
    """One graph of `n_node` nodes and no edges (edges of shape (0, edge_width), or None)."""
    return jraph.GraphsTuple(
        nodes=np.ones((n_node, 3), np.float32),
        edges=None if edge_width is None else np.zeros((0, edge_width), np.float32),
        globals=np.zeros((1, 4), np.float32),
        senders=np.zeros(0, np.int32),
        receivers=np.zeros(0, np.int32),
        n_node=np.asarray([n_node], np.int32),
        n_edge=np.zeros(1, np.int32),
    )


EDGE_CASES = {
    "empty": _edgeless(0),
    "single_node": _edgeless(1),
    "no_edges": _edgeless(3),
    "no_edges_none": _edgeless(3, None),
}
VALID = gn_testing.random_graph(np.random.default_rng(0), [3, 2], [2, 1])


def _apply(fn, graph):
    net = hk.without_apply_rng(hk.transform(fn))
    return net.apply(net.init(jax.random.PRNGKey(0), graph), graph)


# ---- valid edge cases ----


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_pass_every_conversion(name):
    graph = EDGE_CASES[name]
    utils.validate(graph)
    gn_testing.assert_graphs_equal(
        utils.data_dicts_to_graphs_tuple(utils.graphs_tuple_to_data_dicts(graph)), graph
    )
    (single,) = utils.unbatch(graph)
    gn_testing.assert_graphs_equal(single, graph)
    other = VALID if graph.edges is not None else VALID._replace(edges=None)
    batched = utils.batch([graph, other, graph])
    utils.validate(jax.tree_util.tree_map(np.asarray, batched))
    assert [len(g.senders) for g in utils.unbatch(batched)] == [0, 2, 1, 0]
    networkxs = utils.graphs_tuple_to_networkxs(graph)
    assert networkxs[0].number_of_nodes() == graph.nodes.shape[0]
    back = utils.networkxs_to_graphs_tuple(networkxs)
    np.testing.assert_array_equal(back.n_node, graph.n_node)
    assert back.senders.shape == (0,) and back.edges is None
    full = utils.fully_connect_graph(graph)
    assert full.n_edge.tolist() == [graph.nodes.shape[0] ** 2]
    padded = utils.pad_to(graph, 5, 4, 3)
    utils.validate(padded)
    np.testing.assert_array_equal(
        utils.node_mask(padded, 1),
        [True] * graph.nodes.shape[0] + [False] * (5 - graph.nodes.shape[0]),
    )
    utils.validate(utils.pad_to_bucket(graph))


def test_graphs_without_node_features_convert_and_pad():
    graph = _edgeless(3)._replace(nodes=None)
    utils.validate(graph)
    padded = utils.pad_to(graph, 4, 2, 2)
    assert padded.nodes is None and padded.senders.tolist() == [3, 3]
    assert utils.data_dicts_to_graphs_tuple(
        [{"n_node": 2, "senders": [0], "receivers": [1]}]
    ).n_node.tolist() == [2]


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_pass_the_modules(name):
    graph = utils.with_default_fields(EDGE_CASES[name])
    n = graph.nodes.shape[0]
    out = _apply(lambda g: gn.GraphNetwork(MLP, MLP, MLP, reducer="mean")(g), graph)
    assert out.nodes.shape == (n, 4) and out.edges.shape == (0, 4) and out.globals.shape == (1, 4)
    multi_head = lambda: lambda x: jnp.stack([x, -x], axis=1)  # [N, 2 heads, 3]
    for module in (
        lambda g: gn.GraphConvolution(MLP, add_self_edges=True)(g),
        lambda g: gn.GAT(multi_head, add_self_edges=True)(g),
        lambda g: gn.InteractionNetwork(MLP, MLP)(g),
    ):
        out = _apply(module, graph)
        assert out.nodes.shape[0] == n and gn_testing.all_finite(out.nodes)
    outputs = _apply(
        lambda g: gn.EncodeProcessDecode(1, 1, 1, latent_size=4)(g, 2), EDGE_CASES[name]
    )
    assert outputs[-1].globals.shape == (1, 1) and gn_testing.all_finite(outputs)


# ---- data dicts ----

NODES = np.zeros((3, 1), np.float32)
BAD_DATA_DICTS = [
    (
        {"nodes": NODES, "senders": [0.5, 1.7], "receivers": [0, 1]},
        r"\['senders'\] has dtype float64",
    ),
    ({"node": NODES}, "unknown key 'node'"),
    (
        {"nodes": NODES, "senders": [0], "receivers": [1], "edge_features": np.zeros((1, 2))},
        "unknown key 'edge_features'",
    ),
    ({"nodes": NODES, "n_node": "3"}, r"\['n_node'\] is '3'"),
    ({"nodes": NODES, "n_node": 3.0}, r"\['n_node'\] is 3.0"),
    ({"nodes": NODES, "n_node": True}, r"\['n_node'\] is True"),
    ({"nodes": NODES, "n_node": 4}, r"\['n_node'\] is 4 but .*\['nodes'\] has 3 rows"),
    (
        {"nodes": NODES, "senders": [2**40], "receivers": [0]},
        r"\['senders'\]\[0\] = 1099511627776 is out of range",
    ),
    (
        {"nodes": NODES, "senders": [0, 1], "receivers": [-1, 0]},
        r"\['receivers'\]\[0\] = -1 is out of range",
    ),
    ({"nodes": NODES, "senders": [0, 1]}, "has 'senders' but no 'receivers'"),
    ({"nodes": NODES, "senders": [0, 1], "receivers": [1]}, r"\['senders'\] has 2 entries"),
    (
        {"nodes": NODES, "senders": [[0, 1]], "receivers": [[1, 2]]},
        r"\['senders'\] has shape \(1, 2\)",
    ),
    ({"nodes": NODES, "senders": [0], "receivers": [1], "n_edge": 2}, r"\['n_edge'\] is 2"),
    (
        {"nodes": NODES, "senders": [0], "receivers": [1], "edges": np.zeros((2, 1))},
        r"\['edges'\] has 2 rows",
    ),
    ({"nodes": [[1.0, 2.0], [3.0]]}, r"\['nodes'\] is not a rectangular array"),
    ({"nodes": np.float32(1.0)}, r"\['nodes'\] has shape \(\)"),
    ({"nodes": np.array([["a"], ["b"]])}, r"\['nodes'\] has dtype <U1"),
    (
        {"nodes": NODES, "globals": np.array([None], dtype=object)},
        r"\['globals'\] has dtype object",
    ),
    ({"nodes": np.full((3, 1), np.nan, np.float32)}, r"graph.nodes\[1\] has a non-finite value"),
]


@pytest.mark.parametrize("data_dict,message", BAD_DATA_DICTS)
def test_data_dicts_refused_naming_the_field(data_dict, message):
    before = copy.deepcopy(data_dict)
    with pytest.raises(ValueError, match=message):
        utils.data_dicts_to_graphs_tuple([{"nodes": np.zeros((1, 1), np.float32)}, data_dict])
    assert repr(data_dict) == repr(before)  # a refused call changes nothing


@pytest.mark.parametrize(
    "data_dicts,message",
    [
        ({"nodes": NODES}, "data_dicts is a dict but must be a list"),
        ([[0, 1]], r"data_dicts\[0\] is a list but must be a dict"),
        (
            [{"nodes": NODES}, {"nodes": np.zeros((2, 5))}],
            r"data_dicts\[1\]\['nodes'\] has rows of shape \(5,\)",
        ),
        (
            [{"nodes": NODES, "globals": [1.0]}, {"nodes": NODES}],
            r"data_dicts\[1\] has no 'globals'",
        ),
    ],
)
def test_data_dict_batches_refused_naming_the_field(data_dicts, message):
    with pytest.raises(ValueError, match=message):
        utils.data_dicts_to_graphs_tuple(data_dicts)


# ---- validate ----

BAD_GRAPHS = [
    (VALID._replace(nodes=VALID.nodes.astype(str)), r"graph.nodes has dtype <U"),
    (VALID._replace(edges=VALID.edges.astype(object)), r"graph.edges has dtype object"),
    (
        VALID._replace(globals=VALID.globals.astype(np.complex64)),
        r"graph.globals has dtype complex64",
    ),
    (VALID._replace(nodes=np.float32(0.0)), r"graph.nodes has shape \(\)"),
    (VALID._replace(nodes=[[1.0, 2.0], [3.0]]), r"graph.nodes is not a rectangular array"),
    (VALID._replace(senders=None), r"graph.senders is None"),
    (
        VALID._replace(senders=VALID.senders.astype(np.int64) + 2**40),
        r"graph.senders\[0\] = \d+ is out of range",
    ),
    (
        VALID._replace(n_edge=np.asarray([3], np.int32)),
        r"graph.n_node has 2 entries but graph.n_edge has 1",
    ),
    (VALID._replace(n_node=np.asarray([6, -1], np.int32)), r"graph.n_node\[1\] is negative"),
    (VALID._asdict(), r"graph is a dict but must be a jraph.GraphsTuple"),
]


@pytest.mark.parametrize("graph,message", BAD_GRAPHS)
def test_validate_refuses_naming_the_field(graph, message):
    with pytest.raises(ValueError, match=message):
        utils.validate(graph)


# ---- sizes past int32 and values past the compute dtype ----

INT32_MAX = np.iinfo(np.int32).max


def _counts_only(n_node, n_edge=None) -> jraph.GraphsTuple:
    """A graph without features or edges whose counts claim `n_node` nodes (cheap at any size)."""
    return _edgeless(0)._replace(
        nodes=None,
        edges=None,
        globals=None,
        n_node=np.asarray(n_node, np.int64),
        n_edge=np.zeros(len(n_node), np.int64) if n_edge is None else np.asarray(n_edge),
    )


# Each call would end in OverflowError or a many-GiB allocation if it got past its check.
OVERSIZED = [
    (lambda: utils.pad_to(VALID, 2**40, 4, 3), r"num_nodes is 1099511627776 but int32"),
    (lambda: utils.pad_to(VALID, 8, INT32_MAX + 1, 3), r"num_edges is 2147483648 but int32"),
    (lambda: utils.pad_to(VALID, 8, 4, 2**63), r"num_graphs is 9223372036854775808 but int32"),
    (lambda: utils.validate(_counts_only([INT32_MAX, INT32_MAX])), r"sum\(graph.n_node\) is"),
    # Four counts of 2**62 sum to 0 in int64: each count is bounded before summing.
    (
        lambda: utils.validate(_counts_only([2**62] * 4)),
        r"graph.n_node\[0\] is 4611686018427387904",
    ),
    (lambda: utils.validate(_counts_only([0, 0], [0, 2**40])), r"graph.n_edge\[1\] is"),
    (
        lambda: utils.data_dicts_to_graphs_tuple([{"n_node": 2**70}]),
        r"data_dicts\[0\]\['n_node'\] is 1180591620717411303424 but int32",
    ),
    (
        lambda: utils.data_dicts_to_graphs_tuple([{"n_node": 2**30}] * 3),
        r"the number of nodes of all data_dicts is 3221225472 but int32",
    ),
    (
        lambda: utils.fully_connect_graph(_counts_only([50_000])),
        r"the number of edges of the fully connected graph is 2500000000 but int32",
    ),
    (
        lambda: utils.batch([_counts_only([2**30])] * 3),
        r"the number of nodes of all graphs is 3221225472 but int32",
    ),
]


@pytest.mark.parametrize("call,message", OVERSIZED)
def test_sizes_past_int32_are_refused_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_largest_int32_sizes_still_pass():
    utils.validate(_counts_only([INT32_MAX, 0]))
    padded = utils.pad_to(_counts_only([3]), INT32_MAX, 0, 2)  # no features: nothing allocated
    assert padded.n_node.tolist() == [3, INT32_MAX - 3]
    assert utils.pad_to(_edgeless(0), 0, 0, 2).n_node.tolist() == [0, 0]  # no padding rows


@pytest.mark.parametrize("field", ["nodes", "edges", "globals"])
def test_float64_beyond_float32_is_refused_naming_the_field(field):
    huge = getattr(VALID, field).astype(np.float64)
    huge[-1, 0] = -1e300
    graph = VALID._replace(**{field: huge})
    row = len(huge) - 1
    with pytest.raises(
        ValueError, match=rf"graph.{field}\[{row}\] has a non-finite value in float32"
    ):
        utils.validate(graph)
    with jax.enable_x64(True):  # computed in float64 then: finite
        utils.validate(graph)


# ---- networkx ----


def _nx_graph(**node_features):
    graph = nx.DiGraph()
    for node, features in node_features.items():
        graph.add_node(node, **({} if features is None else {"features": features}))
    return graph


MIXED_IDS = nx.Graph()
MIXED_IDS.add_nodes_from([1, "a"])
BAD_NETWORKXS = [
    (_nx_graph(a=np.zeros(2)), "graphs is a DiGraph but must be a list of networkx graphs"),
    ([MIXED_IDS], r"graphs\[0\] has node ids that cannot be sorted"),
    ([_nx_graph(a=np.zeros(2)), {"a": 1}], r"graphs\[1\] is a dict but must be a networkx graph"),
    ([_nx_graph(a=np.zeros(2), b=None)], r"graphs\[0\] node 'b' has no features"),
    (
        [_nx_graph(a=np.zeros(2), b=np.zeros(3))],
        r"graphs\[0\] node 'b' has features of shape \(3,\)",
    ),
    ([_nx_graph(a=np.array(["x"]))], r"graphs\[0\] node 'a' features has dtype <U1"),
]


@pytest.mark.parametrize("graphs,message", BAD_NETWORKXS)
def test_networkx_refused_naming_the_graph(graphs, message):
    with pytest.raises(ValueError, match=message):
        utils.networkxs_to_graphs_tuple(graphs)


# ---- padding, batching and masks ----


@pytest.mark.parametrize(
    "sizes,message",
    [
        ((4.5, 4, 3), r"num_nodes is 4.5 \(float\)"),
        ((8, "4", 3), r"num_edges is '4' \(str\)"),
        ((8, 4, True), r"num_graphs is True"),
        ((8, -1, 3), r"num_edges is -1"),
        ((8, 4, 2), "one padding graph is needed"),
    ],
)
def test_pad_to_refuses_bad_budgets(sizes, message):
    with pytest.raises(ValueError, match=message):
        utils.pad_to(VALID, *sizes)


@pytest.mark.parametrize(
    "graphs,axis,message",
    [
        (
            [VALID, VALID._replace(nodes=np.zeros((5, 7), np.float32))],
            0,
            r"graphs\[1\].nodes has shape \(5, 7\)",
        ),
        ([VALID, VALID._replace(globals=None)], 0, r"graphs\[1\].globals is None"),
        (
            [VALID, VALID._replace(edges=np.zeros((3,), np.float32))],
            0,
            r"graphs\[1\].edges has shape \(3,\)",
        ),
        (
            [VALID, VALID._replace(globals=np.zeros((3, 4), np.float32))],
            0,
            r"graphs\[1\].globals has shape \(3, 4\)",
        ),
        ([VALID, VALID._asdict()], 0, r"graphs\[1\] is a dict"),
        ([], 0, "graphs is empty"),
        (VALID, 0, "graphs is a GraphsTuple but must be a list"),
        ([VALID, utils.batch([VALID, VALID])], -1, r"graphs.senders have shapes"),
    ],
)
def test_batch_and_concat_refuse_mismatched_graphs(graphs, axis, message):
    with pytest.raises(ValueError, match=message):
        utils.concat(graphs, axis=axis)


def test_masks_need_num_real_graphs_unless_padded_by_pad_to():
    unpadded = utils.data_dicts_to_graphs_tuple(
        [{"n_node": 2, "senders": [0], "receivers": [1]}] * 2
    )
    with pytest.raises(ValueError, match="num_real_graphs is None.*has 1 graph"):
        utils.node_mask(_edgeless(34))
    with pytest.raises(ValueError, match="num_real_graphs is None.*not padded"):
        utils.node_mask(unpadded)
    for bad in (5, -1, 1.5, np.asarray([1, 2])):
        with pytest.raises(ValueError, match="num_real_graphs is .* but must be an integer"):
            utils.edge_mask(unpadded, bad)
    assert np.asarray(utils.node_mask(_edgeless(34), 1)).sum() == 34
    padded = utils.pad_to(VALID, 8, 4, 3)
    np.testing.assert_array_equal(utils.node_mask(padded), [True] * 5 + [False] * 3)
    np.testing.assert_array_equal(jax.jit(utils.edge_mask)(padded), [True] * 3 + [False])


# ---- modules ----


def test_module_refusals_name_the_field():
    two_globals = _edgeless(3)._replace(globals=np.zeros((2, 4), np.float32))
    cases = [
        (
            lambda g: gn.GraphNetwork(MLP, MLP, MLP)(g),
            two_globals,
            r"graph.globals has shape \(2, 4\) but needs 1 rows",
        ),
        (
            lambda g: gn.GraphConvolution(MLP)(g),
            VALID._replace(nodes=None),
            "GraphConvolution transforms graph.nodes",
        ),
        (lambda g: gn.GAT(MLP)(g), VALID._replace(nodes=None), "GAT transforms graph.nodes"),
        (
            lambda g: gn.GraphNetwork(MLP, MLP, MLP, reducer="maximum")(g),
            VALID,
            "reducer is 'maximum'",
        ),
        (lambda g: gn.DeepSets(MLP, MLP, reducer=3)(g), VALID, "reducer is a int"),
        (
            lambda g: gn.NodeBlock(MLP, received_edges_reducer="avg")(g),
            VALID,
            "received_edges_reducer is 'avg'",
        ),
        (
            lambda g: gn.EdgeBlock(MLP)(g),
            VALID._replace(receivers=VALID.receivers[:2]),
            r"graph.receivers has shape",
        ),
    ]
    for fn, graph, message in cases:
        with pytest.raises(ValueError, match=message):
            hk.transform(fn).init(jax.random.PRNGKey(0), graph)


def test_graph_network_names_every_missing_field_and_its_fixes():
    node_only = VALID._replace(edges=None, globals=None)
    with pytest.raises(ValueError) as error:
        hk.transform(lambda g: gn.GraphNetwork(MLP, MLP, MLP)(g)).init(
            jax.random.PRNGKey(0), node_only
        )
    message = str(error.value)
    for fix in (
        "graph.edges and graph.globals",
        "graphnets.with_default_fields(graph)",
        "edge_block_opt={'use_edges': False, 'use_globals': False}",
        "node_block_opt={'use_globals': False}",
        "global_block_opt={'use_globals': False}",
    ):
        assert fix in message
    switched_off = lambda g: gn.GraphNetwork(
        MLP,
        MLP,
        MLP,
        edge_block_opt={"use_edges": False, "use_globals": False},
        node_block_opt={"use_globals": False},
        global_block_opt={"use_globals": False},
    )(g)
    assert _apply(switched_off, node_only).globals.shape == (2, 4)
    filled = gn.with_default_fields(node_only)
    assert (
        filled.edges.shape == (3, 1) and filled.globals.shape == (2, 1) and not np.any(filled.edges)
    )
    with pytest.raises(ValueError, match="with_default_fields"):
        hk.transform(lambda g: gn.NodeBlock(MLP)(g)).init(jax.random.PRNGKey(0), node_only)


def test_reducer_names_are_the_reducers():
    net = hk.without_apply_rng(
        hk.transform(lambda g, r: gn.GraphNetwork(MLP, MLP, MLP, reducer=r)(g))
    )
    params = net.init(jax.random.PRNGKey(0), VALID, gn.segment_max)
    for name, reducer in gn.REDUCERS.items():
        gn_testing.assert_graphs_equal(
            net.apply(params, VALID, name), net.apply(params, VALID, reducer)
        )


def test_multi_head_gat_has_one_attention_vector_per_head():
    heads, size = 2, 3
    query_fn = lambda: lambda x: hk.Linear(heads * size)(x).reshape(x.shape[0], heads, size)
    net = hk.without_apply_rng(hk.transform(lambda g: gn.GAT(query_fn)(g)))
    params = net.init(jax.random.PRNGKey(0), VALID)
    out = net.apply(params, VALID)
    attention = np.asarray(gn_testing.module_params(params, "headwise")["attention"])
    assert attention.shape == (heads, 2 * size) and not np.allclose(attention[0], attention[1])
    queries = ref.linear(VALID.nodes, gn_testing.module_params(params, "linear")).reshape(
        -1, heads, size
    )
    sent, received = queries[VALID.senders], queries[VALID.receivers]
    scores = np.sum(np.concatenate([sent, received], axis=-1) * attention, axis=-1)
    logits = np.where(scores > 0, scores, 0.2 * scores)
    weights = ref.segment_softmax(logits, VALID.receivers, 5)
    expected = ref.reduce(sent * weights[..., None], VALID.receivers, 5, "sum")
    np.testing.assert_allclose(out.nodes, expected, rtol=1e-5, atol=1e-5)
    shared = lambda g: gn.GAT(query_fn, lambda: hk.Linear(heads))(g)
    with pytest.raises(
        ValueError, match=r"logit model maps its input of shape \(3, 2, 6\) .* to shape \(3, 2, 2\)"
    ):
        hk.transform(shared).init(jax.random.PRNGKey(0), VALID)


def test_float64_features_compute_in_float32_without_warnings():
    as64 = jax.tree_util.tree_map(
        lambda x: x.astype(np.float64) if x.dtype.kind == "f" else x, VALID
    )
    assert (
        layers.compute_dtype(np.float64) == np.float32
        and layers.compute_dtype(np.int32) == np.float32
    )
    assert layers.compute_dtype(jnp.bfloat16) == jnp.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        utils.validate(as64)
        out = _apply(lambda g: gn.GraphNetwork(MLP, MLP, MLP)(g), as64)
        independent = _apply(lambda g: gn.GraphIndependent(lambda: hk.Linear(2))(g), as64)
    assert out.nodes.dtype == out.globals.dtype == independent.edges.dtype == np.float32
