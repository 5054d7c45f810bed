"""The demo data generators against independent checks (networkx, sorted(), a loop simulator)."""

import itertools

import jax
import jraph
import networkx as nx
import numpy as np
import pytest

from graphnets.datasets import physics, shortest_path, sort


def directed_edges(graph: jraph.GraphsTuple) -> set[tuple[int, int]]:
    return set(zip(graph.senders.tolist(), graph.receivers.tolist()))


@pytest.mark.parametrize("seed", range(5))
def test_geo_graph_matches_networkx_threshold_rule_and_spanning_tree(seed):
    rng = np.random.default_rng(seed)
    graph = shortest_path.sample_geo_graph(rng, 20)
    pos = dict(enumerate(graph.positions))
    weight = dict(enumerate(graph.weights))
    geo = nx.geographical_threshold_graph(20, shortest_path.THETA, pos=pos, weight=weight)
    complete = nx.Graph()
    for i, j in itertools.combinations(range(20), 2):
        complete.add_edge(
            i, j, weight=float(np.linalg.norm(graph.positions[i] - graph.positions[j]))
        )
    tree = nx.minimum_spanning_tree(complete)
    expected = {frozenset(e) for e in geo.edges()} | {frozenset(e) for e in tree.edges()}
    got = {frozenset((int(i), int(j))) for i, j in zip(*np.nonzero(graph.adjacency))}
    assert got == expected


@pytest.mark.parametrize("seed", range(20))
def test_shortest_path_labels_match_networkx(seed):
    inputs, targets = shortest_path.sample_graph(np.random.default_rng(seed), 12)
    edges = directed_edges(inputs)
    assert edges == {(r, s) for s, r in edges}, "every edge appears in both directions"
    digraph = nx.DiGraph()
    for s, r, distance in zip(inputs.senders, inputs.receivers, inputs.edges[:, 0]):
        digraph.add_edge(int(s), int(r), distance=float(distance))
        np.testing.assert_allclose(
            distance, np.linalg.norm(inputs.nodes[s, :2] - inputs.nodes[r, :2]), rtol=1e-5
        )
    assert nx.is_strongly_connected(digraph)
    start = int(np.argmax(inputs.nodes[:, 3]))
    end = int(np.argmax(inputs.nodes[:, 4]))
    assert inputs.nodes[:, 3].sum() == inputs.nodes[:, 4].sum() == 1 and start != end
    expected = nx.shortest_path(digraph, start, end, weight="distance")
    on_nodes = np.flatnonzero(targets.nodes[:, 1])
    assert sorted(on_nodes.tolist()) == sorted(expected)
    on_edges = {
        (int(s), int(r))
        for s, r, on in zip(inputs.senders, inputs.receivers, targets.edges[:, 1])
        if on
    }
    assert on_edges == set(zip(expected[:-1], expected[1:]))
    np.testing.assert_allclose(targets.nodes.sum(-1), 1.0)
    np.testing.assert_allclose(targets.edges.sum(-1), 1.0)


def test_shortest_path_lengths_in_hops_are_spread_out():
    rng = np.random.default_rng(0)
    hops = [int(shortest_path.sample_graph(rng, 16)[1].edges[:, 1].sum()) for _ in range(200)]
    assert min(hops) == 1 and max(hops) >= 5
    assert np.mean(hops) > 2.5  # uniform over lengths, not over node pairs


@pytest.mark.parametrize("seed", range(10))
def test_sort_labels_follow_sorted_order(seed):
    rng = np.random.default_rng(seed)
    inputs, targets = sort.sample_graph(rng, 9)
    values = inputs.nodes[:, 0]
    assert directed_edges(inputs) == set(itertools.product(range(9), repeat=2))
    first = int(np.argmax(targets.nodes[:, 1]))
    assert targets.nodes[:, 1].sum() == 1 and values[first] == values.min()
    successor = {
        int(s): int(r)
        for s, r, on in zip(inputs.senders, inputs.receivers, targets.edges[:, 1])
        if on
    }
    assert len(successor) == 9, "one marked outgoing edge per element"
    order = [first]
    while successor[order[-1]] != order[-1]:
        order.append(successor[order[-1]])
    assert values[order].tolist() == sorted(values.tolist())


def test_batches_are_reproducible_and_sized():
    a = shortest_path.sample_batch(np.random.default_rng(3), 6, 8, 10)
    b = shortest_path.sample_batch(np.random.default_rng(3), 6, 8, 10)
    jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)
    assert all(8 <= n <= 10 for n in a[0].n_node)
    inputs, targets = sort.sample_batch(np.random.default_rng(3), 5, 2, 4)
    assert np.all(inputs.n_edge == inputs.n_node**2)


def loop_acceleration(nodes: np.ndarray, springs: np.ndarray, rest: float, gravity: float):
    """Chain forces written out mass by mass (independent of the edge-list simulator)."""
    accel = np.zeros((len(nodes), 2))
    for i in range(1, len(nodes) - 1):
        for j, k in ((i - 1, springs[i - 1]), (i + 1, springs[i])):
            offset = nodes[j, :2] - nodes[i, :2]
            length = np.linalg.norm(offset)
            accel[i] += k * (length - rest) * offset / length
        accel[i, 1] += gravity
    return accel


def test_simulator_matches_loop_forces_and_keeps_ends_fixed():
    rng = np.random.default_rng(1)
    graph = physics.sample_chain(rng, 7, 0.4)
    spring_of_edge = np.minimum(graph.senders, graph.receivers)
    springs = np.array([graph.edges[spring_of_edge == i][0, 0] for i in range(6)])
    states = np.asarray(physics.rollout(graph, 30))
    for t in (0, 10, 29):
        current = graph._replace(nodes=states[t])
        np.testing.assert_allclose(
            physics.acceleration(current),
            loop_acceleration(states[t], springs, 0.4, float(graph.globals[0, 1])),
            rtol=1e-4,
            atol=1e-4,
        )
    np.testing.assert_array_equal(states[:, [0, -1], :2], np.repeat(states[:1, [0, -1], :2], 31, 0))
    assert np.all(states[:, [0, -1], 2:4] == 0)


def chain_energy(nodes: np.ndarray, spring: float, rest: float, gravity: float) -> float:
    kinetic = 0.5 * np.sum(nodes[:, 2:4] ** 2)
    lengths = np.linalg.norm(np.diff(nodes[:, :2], axis=0), axis=-1)
    return kinetic + 0.5 * spring * np.sum((lengths - rest) ** 2) - gravity * np.sum(nodes[:, 1])


def test_simulator_conserves_energy_with_a_small_time_step():
    graph = physics.chain(6, 0.5)
    states = np.asarray(physics.rollout(graph, 2000, lambda g: physics.simulate_step(g, 0.001)))
    energies = [chain_energy(s, physics.SPRING_CONSTANT, 0.5, physics.GRAVITY) for s in states]
    largest_kinetic = max(0.5 * np.sum(s[:, 2:4] ** 2) for s in states)
    assert largest_kinetic > 1.0
    assert np.ptp(energies) < 0.02 * largest_kinetic
    assert states[:, 1:-1, 1].min() < -0.1, "the chain sags under gravity"


def test_simulator_ignores_padding():
    batch = physics.sample_batch(np.random.default_rng(2), 3, 4, 6)
    padded = jraph.pad_with_graphs(
        batch, int(batch.n_node.sum()) + 5, int(batch.n_edge.sum()) + 7, 5
    )
    states = np.asarray(physics.rollout(padded, 10))
    assert np.all(np.isfinite(states))
    np.testing.assert_allclose(
        states[:, : int(batch.n_node.sum())],
        np.asarray(physics.rollout(batch, 10)),
        rtol=1e-5,
        atol=1e-5,
    )


def test_batched_chains_have_the_layout_of_single_chains():
    batch = physics.sample_batch(np.random.default_rng(4), 20, 3, 9, 0.2, 1.0)
    assert batch.n_node.min() >= 3 and batch.n_node.max() <= 9
    for graph in jraph.unbatch_np(batch):
        n, rest = int(graph.n_node[0]), float(graph.edges[0, 1])
        reference = physics.chain(n, rest, gravity=float(graph.globals[0, 1]))
        np.testing.assert_array_equal(graph.senders, reference.senders)
        np.testing.assert_array_equal(graph.receivers, reference.receivers)
        np.testing.assert_array_equal(graph.nodes[:, 2:], reference.nodes[:, 2:])
        assert np.abs(graph.nodes[:, :2] - reference.nodes[:, :2]).max() <= physics.POSITION_NOISE
        assert np.all(graph.edges[:, 1] == graph.edges[0, 1]) and 0.2 <= rest <= 1.0
        assert abs(graph.globals[0, 1] - physics.GRAVITY) <= physics.GRAVITY_NOISE
        assert np.all(np.abs(graph.edges[:, 0] - physics.SPRING_CONSTANT) <= physics.SPRING_NOISE)
        # One constant per spring, shared by both directions.
        springs = {}
        for s, r, k in zip(graph.senders, graph.receivers, graph.edges[:, 0]):
            assert springs.setdefault(min(s, r), k) == k
        assert sorted(springs) == list(range(n - 1))
