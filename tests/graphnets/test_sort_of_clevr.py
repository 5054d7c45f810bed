"""Sort-of-CLEVR: seeded scenes, every answer against a plain brute-force reading of the encoded
examples, answer balance, the graph and flat forms, and refused parameters."""

import math

import numpy as np
import pytest

from graphnets import utils
from graphnets.datasets import sort_of_clevr as clevr

NUM_COLORS = 6


def decode_objects(objects: np.ndarray) -> list[dict]:
    """The objects of one encoded scene as dicts, read field by field."""
    return [{"color": clevr.COLORS[int(np.argmax(row[:NUM_COLORS]))],
             "shape": clevr.SHAPES[int(np.argmax(row[NUM_COLORS:NUM_COLORS + 2]))],
             "x": float(row[-2]), "y": float(row[-1])} for row in objects]


def brute_force_answer(objects: list[dict], question: np.ndarray) -> str:
    """The answer to one encoded question, worked out with loops over the objects."""
    color = clevr.COLORS[int(np.argmax(question[:NUM_COLORS]))]
    kind = int(np.argmax(question[NUM_COLORS:NUM_COLORS + 3]))
    relational = question[-1] == 1
    subject = [o for o in objects if o["color"] == color][0]
    others = [o for o in objects if o is not subject]

    def distance(other):
        return math.dist((subject["x"], subject["y"]), (other["x"], other["y"]))

    if not relational:
        if kind == 0:
            return subject["shape"]
        if kind == 1:
            return "left" if subject["x"] < 0.5 else "right"
        return "bottom" if subject["y"] < 0.5 else "top"
    if kind == 0:
        return min(others, key=distance)["shape"]
    if kind == 1:
        return max(others, key=distance)["shape"]
    return str(sum(1 for o in objects if o["shape"] == subject["shape"]))


@pytest.fixture(scope="module")
def batch():
    return clevr.sample_batch(np.random.default_rng(0), 3000)


def test_same_seed_same_data_and_another_seed_other_data():
    first, second = (clevr.sample_batch(np.random.default_rng(5), 50) for _ in range(2))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    other = clevr.sample_batch(np.random.default_rng(6), 50)
    assert not np.array_equal(first.objects, other.objects)


def test_every_answer_matches_the_brute_force_one(batch):
    assert set(batch.question_types) == set(range(len(clevr.QUESTION_TYPES)))
    for objects, question, answer, kind in zip(*batch):
        assert clevr.ANSWERS[answer] == brute_force_answer(decode_objects(objects), question)
        assert (question[-1] == 1) == clevr.is_relational(kind)
        assert clevr.QUESTION_TYPES[kind].startswith("shape") == (answer < 2)


def test_scenes_hold_each_color_once_apart_inside_the_unit_square(batch):
    for objects in batch.objects:
        decoded = decode_objects(objects)
        assert sorted(o["color"] for o in decoded) == sorted(clevr.COLORS)
        points = [(o["x"], o["y"]) for o in decoded]
        assert all(0 <= v <= 1 for point in points for v in point)
        assert min(math.dist(p, q) for i, p in enumerate(points)
                   for q in points[i + 1:]) >= clevr.MIN_DISTANCE
    assert not all(np.argmax(batch.objects[0, :, :NUM_COLORS], 1) == np.arange(NUM_COLORS))


def test_min_distance_is_kept():
    scenes = clevr.sample_scenes(np.random.default_rng(1), 200, min_distance=clevr.MAX_MIN_DISTANCE)
    gaps = np.linalg.norm(scenes.positions[:, :, None] - scenes.positions[:, None], axis=-1)
    assert np.all(gaps[:, ~np.eye(NUM_COLORS, dtype=bool)] >= clevr.MAX_MIN_DISTANCE)


def test_answers_are_balanced(batch):
    assert 0.45 < clevr.is_relational(batch.question_types).mean() < 0.55
    for kind, name in enumerate(clevr.QUESTION_TYPES):
        answers = [clevr.ANSWERS[a] for a in batch.answers[batch.question_types == kind]]
        counts = {answer: answers.count(answer) / len(answers) for answer in set(answers)}
        if name == "number with the same shape":
            # Itself plus a Binomial(5, 1/2) count of the others: 3 and 4 each 10/32.
            assert set(counts) == {"1", "2", "3", "4", "5", "6"}
            assert 0.25 < counts["3"] < 0.37 and 0.25 < counts["4"] < 0.37
        else:
            assert len(counts) == 2 and all(0.4 < share < 0.6 for share in counts.values())


def test_graphs_hold_the_objects_fully_connected_with_self_edges_and_the_question():
    batch = clevr.sample_batch(np.random.default_rng(2), 3)
    graph = clevr.to_graphs_tuple(batch)
    utils.validate(graph)
    np.testing.assert_array_equal(graph.nodes, batch.objects.reshape(-1, clevr.OBJECT_SIZE))
    np.testing.assert_array_equal(graph.globals, batch.questions)
    assert graph.edges is None
    np.testing.assert_array_equal(graph.n_node, [NUM_COLORS] * 3)
    np.testing.assert_array_equal(graph.n_edge, [NUM_COLORS ** 2] * 3)
    pairs = set(zip(graph.senders.tolist(), graph.receivers.tolist()))
    expected = {(6 * g + i, 6 * g + j) for g in range(3) for i in range(6) for j in range(6)}
    assert pairs == expected and len(graph.senders) == len(expected)


def test_flat_inputs_are_the_objects_then_the_question():
    batch = clevr.sample_batch(np.random.default_rng(3), 4)
    flat = clevr.flat_inputs(batch)
    assert flat.shape == (4, NUM_COLORS * clevr.OBJECT_SIZE + clevr.QUESTION_SIZE)
    np.testing.assert_array_equal(flat[1, :clevr.OBJECT_SIZE], batch.objects[1, 0])
    np.testing.assert_array_equal(flat[1, -clevr.QUESTION_SIZE:], batch.questions[1])


@pytest.mark.parametrize("kwargs, field", [
    (dict(batch_size=0), "batch_size"), (dict(batch_size=-2), "batch_size"),
    (dict(batch_size=2.0), "batch_size"), (dict(batch_size=True), "batch_size"),
    (dict(batch_size=2, min_distance=-0.1), "min_distance"),
    (dict(batch_size=2, min_distance=clevr.MAX_MIN_DISTANCE + 0.01), "min_distance"),
    (dict(batch_size=2, min_distance=float("nan")), "min_distance"),
    (dict(batch_size=2, min_distance="0.1"), "min_distance"),
])
def test_bad_parameters_are_refused_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        clevr.sample_batch(np.random.default_rng(0), **kwargs)


def test_scene_and_question_counts_are_checked():
    with pytest.raises(ValueError, match="num_scenes is 0"):
        clevr.sample_scenes(np.random.default_rng(0), 0)
    with pytest.raises(ValueError, match="num_scenes"):
        clevr.sample_questions(np.random.default_rng(0), "3")
