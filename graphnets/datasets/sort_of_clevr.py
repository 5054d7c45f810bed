"""Sort-of-CLEVR (Santoro et al. 2017) as state descriptions: objects, questions and answers.

A scene holds one object of each of the six colors, each a square or a circle at a position in
the unit square (x to the right, y upwards), no two closer than `min_distance`. A question asks
about the object of one color; three kinds are non-relational (its shape; is it on the left or
the right half; in the top or the bottom half) and three relational (the shape of the object
closest to it; of the object furthest from it; how many objects, itself included, have its
shape). Every answer is one class of the shared vocabulary `ANSWERS`. An example is one scene
with one question, its color and type drawn uniformly, so half the questions are relational.

Objects come in a random order in every scene: a model must find the asked object by its color,
not by its place in the list.

Features:
  object   [color one-hot (6), shape one-hot [square, circle], x, y]            OBJECT_SIZE
  question [color one-hot (6), question type one-hot within its kind (3), is relational]
                                                                                 QUESTION_SIZE
  answer   index into ANSWERS
As graphs: the objects are the nodes, fully connected with self edges (a relation network sums
over every ordered pair of objects, an object with itself included), without edge features;
the question is the global.
"""

from __future__ import annotations

from typing import NamedTuple

import jraph
import numpy as np

from graphnets import utils

COLORS = ("red", "green", "blue", "orange", "grey", "yellow")
SHAPES = ("square", "circle")
NON_RELATIONAL = ("shape", "left or right", "top or bottom")
RELATIONAL = ("shape of the closest", "shape of the furthest", "number with the same shape")
QUESTION_TYPES = NON_RELATIONAL + RELATIONAL
NUM_OBJECTS = len(COLORS)
ANSWERS = SHAPES + ("left", "right", "top", "bottom") + tuple(
    str(count) for count in range(1, NUM_OBJECTS + 1))
OBJECT_SIZE = len(COLORS) + len(SHAPES) + 2
QUESTION_SIZE = len(COLORS) + len(NON_RELATIONAL) + 1
MIN_DISTANCE = 0.1
# Whole scenes are redrawn until no two objects are too close; up to here at least one draw in
# about fifteen succeeds, so sampling stays fast.
MAX_MIN_DISTANCE = 0.25
_LEFT, _BOTTOM, _ONE = ANSWERS.index("left"), ANSWERS.index("bottom"), ANSWERS.index("1")


class Scenes(NamedTuple):
    """Scenes of `NUM_OBJECTS` objects each, in their (random) order."""

    colors: np.ndarray  # [scenes, objects] int: index into COLORS, a permutation per scene
    shapes: np.ndarray  # [scenes, objects] int: index into SHAPES
    positions: np.ndarray  # [scenes, objects, 2] float: (x, y) in the unit square


class Questions(NamedTuple):
    """One question per scene: the color of the object it asks about and its type."""

    colors: np.ndarray  # [scenes] int: index into COLORS
    types: np.ndarray  # [scenes] int: index into QUESTION_TYPES


class Batch(NamedTuple):
    """Encoded examples as numpy arrays (see the module docstring)."""

    objects: np.ndarray  # [examples, NUM_OBJECTS, OBJECT_SIZE] float32
    questions: np.ndarray  # [examples, QUESTION_SIZE] float32
    answers: np.ndarray  # [examples] int32: index into ANSWERS
    question_types: np.ndarray  # [examples] int32: index into QUESTION_TYPES


def _check_count(value: int, name: str) -> int:
    """`value` as an int; a ValueError naming `name` unless it is a positive integer."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} is {value!r} but must be a positive integer.")
    if value < 1:
        raise ValueError(f"{name} is {value} but must be a positive integer.")
    return int(value)


def _check_min_distance(min_distance: float) -> float:
    """`min_distance` as a float; a ValueError unless it is in [0, MAX_MIN_DISTANCE]."""
    if isinstance(min_distance, (bool, np.bool_)) or not isinstance(
            min_distance, (int, float, np.integer, np.floating)):
        raise ValueError(f"min_distance is {min_distance!r} but must be a number.")
    if not 0 <= min_distance <= MAX_MIN_DISTANCE:
        raise ValueError(f"min_distance is {min_distance} but must be in [0, {MAX_MIN_DISTANCE}] "
                         "(larger ones make scenes slow to draw).")
    return float(min_distance)


def sample_positions(rng: np.random.Generator, num_scenes: int,
                     min_distance: float) -> np.ndarray:
    """[num_scenes, NUM_OBJECTS, 2] uniform positions, no two of a scene within `min_distance`."""
    positions = np.empty((num_scenes, NUM_OBJECTS, 2))
    pending = np.arange(num_scenes)
    off_diagonal = ~np.eye(NUM_OBJECTS, dtype=bool)
    while len(pending):
        draws = rng.uniform(size=(len(pending), NUM_OBJECTS, 2))
        gaps = np.linalg.norm(draws[:, :, None] - draws[:, None, :], axis=-1)
        apart = np.all((gaps >= min_distance) | ~off_diagonal, axis=(1, 2))
        positions[pending[apart]] = draws[apart]
        pending = pending[~apart]
    return positions


def sample_scenes(rng: np.random.Generator, num_scenes: int,
                  min_distance: float = MIN_DISTANCE) -> Scenes:
    """`num_scenes` scenes: every color once in a random order, shapes fair coin flips."""
    num_scenes = _check_count(num_scenes, "num_scenes")
    min_distance = _check_min_distance(min_distance)
    colors = rng.permuted(np.tile(np.arange(NUM_OBJECTS), (num_scenes, 1)), axis=1)
    shapes = rng.integers(len(SHAPES), size=(num_scenes, NUM_OBJECTS))
    return Scenes(colors, shapes, sample_positions(rng, num_scenes, min_distance))


def sample_questions(rng: np.random.Generator, num_scenes: int) -> Questions:
    """One question per scene, its color and its type uniform."""
    num_scenes = _check_count(num_scenes, "num_scenes")
    return Questions(rng.integers(len(COLORS), size=num_scenes),
                     rng.integers(len(QUESTION_TYPES), size=num_scenes))


def answer_indices(scenes: Scenes, questions: Questions) -> np.ndarray:
    """[scenes] int32: each question's answer, an index into ANSWERS."""
    scene = np.arange(len(questions.colors))
    subject = np.argmax(scenes.colors == questions.colors[:, None], axis=1)
    distances = np.linalg.norm(scenes.positions - scenes.positions[scene, subject][:, None],
                               axis=-1)
    closest = np.argmin(np.where(np.arange(NUM_OBJECTS) == subject[:, None], np.inf, distances),
                        axis=1)
    furthest = np.argmax(distances, axis=1)
    shape = scenes.shapes[scene, subject]
    x, y = scenes.positions[scene, subject].T
    same_shape = np.sum(scenes.shapes == shape[:, None], axis=1)
    candidates = np.stack([
        shape, _LEFT + (x >= 0.5), _BOTTOM - (y >= 0.5),
        scenes.shapes[scene, closest], scenes.shapes[scene, furthest], _ONE + same_shape - 1,
    ])
    return candidates[questions.types, scene].astype(np.int32)


def encode_objects(scenes: Scenes) -> np.ndarray:
    """[scenes, NUM_OBJECTS, OBJECT_SIZE] float32 object descriptions."""
    return np.concatenate([np.eye(len(COLORS))[scenes.colors], np.eye(len(SHAPES))[scenes.shapes],
                           scenes.positions], axis=-1).astype(np.float32)


def encode_questions(questions: Questions) -> np.ndarray:
    """[scenes, QUESTION_SIZE] float32 question vectors."""
    kind = questions.types % len(NON_RELATIONAL)
    relational = questions.types >= len(NON_RELATIONAL)
    return np.concatenate([np.eye(len(COLORS))[questions.colors],
                           np.eye(len(NON_RELATIONAL))[kind], relational[:, None]],
                          axis=-1).astype(np.float32)


def is_relational(question_types: np.ndarray) -> np.ndarray:
    """Whether each index into QUESTION_TYPES names a relational question."""
    return np.asarray(question_types) >= len(NON_RELATIONAL)


def encode(scenes: Scenes, questions: Questions) -> Batch:
    """The examples of one question per scene as arrays."""
    return Batch(encode_objects(scenes), encode_questions(questions),
                 answer_indices(scenes, questions), questions.types.astype(np.int32))


def sample_batch(rng: np.random.Generator, batch_size: int,
                 min_distance: float = MIN_DISTANCE) -> Batch:
    """`batch_size` examples, each a fresh scene with one question."""
    batch_size = _check_count(batch_size, "batch_size")
    scenes = sample_scenes(rng, batch_size, min_distance)
    return encode(scenes, sample_questions(rng, batch_size))


def flat_inputs(batch: Batch) -> np.ndarray:
    """[examples, NUM_OBJECTS * OBJECT_SIZE + QUESTION_SIZE]: objects then question, one row each.

    What a model without relational structure (an MLP) reads.
    """
    return np.concatenate([batch.objects.reshape(len(batch.objects), -1), batch.questions],
                          axis=1)


def to_graphs_tuple(batch: Batch) -> jraph.GraphsTuple:
    """The examples as one batch of graphs: objects as nodes, fully connected with self edges,
    no edge features, the question as the global."""
    num_graphs = len(batch.objects)
    no_edges = np.zeros(0, np.int32)
    objects = jraph.GraphsTuple(
        nodes=batch.objects.reshape(-1, OBJECT_SIZE), edges=None, globals=batch.questions,
        senders=no_edges, receivers=no_edges, n_node=np.full(num_graphs, NUM_OBJECTS, np.int32),
        n_edge=np.zeros(num_graphs, np.int32))
    return utils.fully_connect_graph(objects, exclude_self_edges=False)
