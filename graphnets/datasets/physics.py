"""Mass-spring chains and their ground-truth simulator.

A chain of `n` unit masses hangs between two fixed end masses. The masses start on a horizontal
line, `rest_length` apart, so every spring starts at rest length; the first and last are fixed.
Springs follow Hooke's law, gravity is a constant acceleration, and the state advances with
semi-implicit Euler: v' = v + dt * a(x), x' = x + dt * v'.

Features:
  nodes   [x, y, vx, vy, is_fixed]
  edges   [spring constant, rest length]; a spring's force on mass r is carried by the edge
          s -> r, so every spring between two free masses appears in both directions and no
          edge points into a fixed mass
  globals [gravity_x, gravity_y]

Sampled chains are perturbed like the original demo's: positions by U(-0.04, 0.04), spring
constants by U(-5, 5) (one draw per spring, both directions), vertical gravity by U(-1, 1).

The simulator works on batched and padded `GraphsTuple`s of numpy or JAX arrays, so it can run
inside `jax.jit`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from graphnets import blocks

SPRING_CONSTANT = 50.0
GRAVITY = -10.0
TIME_STEP = 0.1
NODE_INPUT_SIZE = 5
EDGE_INPUT_SIZE = 2
GLOBAL_INPUT_SIZE = 2
POSITION_NOISE = 0.04
SPRING_NOISE = 5.0
GRAVITY_NOISE = 1.0


def chain_springs(num_masses: int) -> tuple[np.ndarray, np.ndarray]:
    """Senders and receivers of a chain's springs, leaving out edges into the fixed ends."""
    left, right = np.arange(num_masses - 1), np.arange(1, num_masses)
    senders = np.concatenate([left, right])
    receivers = np.concatenate([right, left])
    into_free = (receivers > 0) & (receivers < num_masses - 1)
    return senders[into_free].astype(np.int32), receivers[into_free].astype(np.int32)


def chain(num_masses: int, rest_length: float, spring_constants: np.ndarray | None = None,
          gravity: float = GRAVITY) -> jraph.GraphsTuple:
    """A chain at rest on a horizontal line, centred on x = 0, ends fixed.

    `spring_constants` has one entry per spring (`num_masses - 1`), default all 50.
    """
    if spring_constants is None:
        spring_constants = np.full(num_masses - 1, SPRING_CONSTANT)
    nodes = np.zeros((num_masses, NODE_INPUT_SIZE), np.float32)
    nodes[:, 0] = rest_length * (np.arange(num_masses) - (num_masses - 1) / 2)
    nodes[[0, -1], 4] = 1.0
    senders, receivers = chain_springs(num_masses)
    spring_of_edge = np.minimum(senders, receivers)
    edges = np.stack([spring_constants[spring_of_edge],
                      np.full(len(senders), rest_length)], axis=1).astype(np.float32)
    return jraph.GraphsTuple(
        nodes=nodes, edges=edges, senders=senders, receivers=receivers,
        n_node=np.array([num_masses], np.int32), n_edge=np.array([len(senders)], np.int32),
        globals=np.array([[0.0, gravity]], np.float32))


def sample_chain(rng: np.random.Generator, num_masses: int,
                 rest_length: float) -> jraph.GraphsTuple:
    """A perturbed chain: noisy positions, spring constants and gravity."""
    springs = SPRING_CONSTANT + rng.uniform(-SPRING_NOISE, SPRING_NOISE, size=num_masses - 1)
    gravity = GRAVITY + rng.uniform(-GRAVITY_NOISE, GRAVITY_NOISE)
    graph = chain(num_masses, rest_length, springs, gravity)
    nodes = graph.nodes.copy()
    nodes[:, :2] += rng.uniform(-POSITION_NOISE, POSITION_NOISE, size=(num_masses, 2))
    return graph._replace(nodes=nodes)


def sample_batch(rng: np.random.Generator, batch_size: int, min_masses: int, max_masses: int,
                 min_rest_length: float = 0.2, max_rest_length: float = 1.0) -> jraph.GraphsTuple:
    """`batch_size` perturbed chains, masses uniform in [min_masses, max_masses].

    Each chain is distributed as `sample_chain`'s with a U(min_rest_length, max_rest_length) rest
    length; the draws are made for the whole batch at once (numpy, no loop over features).
    """
    masses = rng.integers(min_masses, max_masses + 1, size=batch_size)
    rest = rng.uniform(min_rest_length, max_rest_length, size=batch_size)
    gravity = GRAVITY + rng.uniform(-GRAVITY_NOISE, GRAVITY_NOISE, size=batch_size)
    springs = SPRING_CONSTANT + rng.uniform(-SPRING_NOISE, SPRING_NOISE,
                                            size=int(np.sum(masses - 1)))
    node_offsets = np.concatenate([[0], np.cumsum(masses)[:-1]])
    spring_offsets = node_offsets - np.arange(batch_size)  # chain i's first spring
    graph_of_node = np.repeat(np.arange(batch_size), masses)
    local = np.arange(len(graph_of_node)) - node_offsets[graph_of_node]
    nodes = np.zeros((len(local), NODE_INPUT_SIZE), np.float32)
    nodes[:, 0] = rest[graph_of_node] * (local - (masses[graph_of_node] - 1) / 2)
    nodes[:, 4] = (local == 0) | (local == masses[graph_of_node] - 1)
    nodes[:, :2] += rng.uniform(-POSITION_NOISE, POSITION_NOISE, size=(len(local), 2))
    templates = {n: chain_springs(n) for n in np.unique(masses)}
    num_edges = np.array([len(templates[n][0]) for n in masses])
    graph_of_edge = np.repeat(np.arange(batch_size), num_edges)
    local_senders = np.concatenate([templates[n][0] for n in masses])
    local_receivers = np.concatenate([templates[n][1] for n in masses])
    spring = spring_offsets[graph_of_edge] + np.minimum(local_senders, local_receivers)
    edges = np.stack([springs[spring], rest[graph_of_edge]], axis=1).astype(np.float32)
    return jraph.GraphsTuple(
        nodes=nodes, edges=edges,
        senders=(local_senders + node_offsets[graph_of_edge]).astype(np.int32),
        receivers=(local_receivers + node_offsets[graph_of_edge]).astype(np.int32),
        n_node=masses.astype(np.int32), n_edge=num_edges.astype(np.int32),
        globals=np.stack([np.zeros(batch_size), gravity], axis=1).astype(np.float32))


def acceleration(graph: jraph.GraphsTuple) -> jnp.ndarray:
    """Spring force plus gravity on every (unit) mass, zero for fixed masses; [N, 2]."""
    positions, fixed = graph.nodes[:, :2], graph.nodes[:, 4:5]
    offset = positions[graph.senders] - positions[graph.receivers]
    length = jnp.linalg.norm(offset, axis=-1, keepdims=True)
    # Padding edges join a padding node to itself; their zero offset must not divide by zero.
    direction = offset / jnp.where(length > 0, length, 1.0)
    force = graph.edges[:, :1] * (length - graph.edges[:, 1:2]) * direction
    spring = jax.ops.segment_sum(force, graph.receivers, num_segments=positions.shape[0])
    gravity = graph.globals[blocks.node_graph_index(graph)]
    return (spring + gravity) * (1.0 - fixed)


def advance(graph: jraph.GraphsTuple, velocity: jnp.ndarray,
            dt: float = TIME_STEP) -> jraph.GraphsTuple:
    """Moves every free mass with its new `velocity` for `dt`; fixed masses stay at rest."""
    free = 1.0 - graph.nodes[:, 4:5]
    velocity = velocity * free
    positions = graph.nodes[:, :2] + dt * velocity
    return graph._replace(nodes=jnp.concatenate([positions, velocity, graph.nodes[:, 4:]], -1))


def simulate_step(graph: jraph.GraphsTuple, dt: float = TIME_STEP) -> jraph.GraphsTuple:
    """One semi-implicit Euler step of the true dynamics."""
    return advance(graph, graph.nodes[:, 2:4] + dt * acceleration(graph), dt)


def rollout(graph: jraph.GraphsTuple, num_steps: int,
            step_fn: Callable[[jraph.GraphsTuple], jraph.GraphsTuple] = simulate_step
            ) -> jnp.ndarray:
    """Node states [num_steps + 1, N, 5] from `graph` on, advanced by `step_fn(graph)`."""

    def body(current: jraph.GraphsTuple, _) -> tuple[jraph.GraphsTuple, jnp.ndarray]:
        following = step_fn(current)
        return following, following.nodes

    _, states = jax.lax.scan(body, graph, None, length=num_steps)
    return jnp.concatenate([jnp.asarray(graph.nodes)[None], states], axis=0)
