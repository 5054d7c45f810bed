"""Factorised Hanabi beliefs against exact posteriors by enumerating every joint hand."""

import itertools

import jax
import numpy as np
import pytest

from bad.hanabi import belief as hanabi_belief

VERY_SMALL_COUNTS = np.array([3, 2, 2, 2, 1])  # one color, ranks 1-5


def exact_marginals(mask, counts, likelihood=None):
    """P(slot i holds v | hints, counts, likelihood) by enumerating every joint assignment.

    A joint assignment f of values to the occupied slots has prior probability proportional to
    the number of ways to draw it, in order, from the remaining cards: prod_v C_v! / (C_v - n_v)!.
    """
    slots, values = mask.shape
    likelihood = np.ones(mask.shape) if likelihood is None else likelihood
    marginals = np.zeros(mask.shape)
    for assignment in itertools.product(range(values), repeat=slots):
        weight = 1.0
        used = np.zeros(values, int)
        for slot, value in enumerate(assignment):
            weight *= (
                mask[slot, value] * likelihood[slot, value] * max(counts[value] - used[value], 0)
            )
            used[value] += 1
        for slot, value in enumerate(assignment):
            marginals[slot, value] += weight
    return marginals / marginals.sum(axis=1, keepdims=True)


def random_position(rng, counts, num_slots, keep=0.5):
    """A random deal of `num_slots` cards from `counts`, with hint masks that contain the truth."""
    deck = np.repeat(np.arange(len(counts)), counts)
    hand = rng.choice(deck, size=num_slots, replace=False)
    mask = (rng.random((num_slots, len(counts))) < keep).astype(np.float32)
    mask[np.arange(num_slots), hand] = 1.0
    return hand, mask


def as_belief_input(mask, hand_size=2):
    """[slots, values] -> [players, hand_size, values]."""
    return mask.reshape(-1, hand_size, mask.shape[-1])


def kl(p, q):
    return float(
        np.sum(
            np.where(p > 0, p * (np.log(np.maximum(p, 1e-30)) - np.log(np.maximum(q, 1e-30))), 0.0)
        )
    )


def test_single_slot_beliefs_are_exact():
    rng = np.random.default_rng(0)
    for _ in range(20):
        counts = rng.integers(0, 4, size=6)
        counts[rng.integers(6)] += 1
        mask = (rng.random((1, 6)) < 0.7).astype(np.float32)
        mask[0, np.flatnonzero(counts)[0]] = 1.0
        likelihood = rng.random((1, 6)).astype(np.float32)
        ck, c = mask.reshape(1, 1, 6), counts.astype(np.float32)
        np.testing.assert_allclose(
            hanabi_belief.v0_belief(ck, c)[0, 0], exact_marginals(mask, counts)[0], atol=1e-6
        )
        np.testing.assert_allclose(
            hanabi_belief.v1_belief(ck, c)[0, 0], exact_marginals(mask, counts)[0], atol=1e-6
        )
        np.testing.assert_allclose(
            hanabi_belief.bb_belief(ck, c, likelihood.reshape(1, 1, 6))[0, 0],
            exact_marginals(mask, counts, likelihood)[0],
            atol=1e-6,
        )


def test_v1_is_closer_to_exact_posterior_than_v0():
    rng = np.random.default_rng(1)
    kl_v0, kl_v1 = [], []
    for _ in range(60):
        hand, mask = random_position(rng, VERY_SMALL_COUNTS, num_slots=4, keep=0.6)
        exact = exact_marginals(mask, VERY_SMALL_COUNTS)
        ck, c = as_belief_input(mask), VERY_SMALL_COUNTS.astype(np.float32)
        v0 = np.asarray(hanabi_belief.v0_belief(ck, c)).reshape(exact.shape)
        v1 = np.asarray(hanabi_belief.v1_belief(ck, c)).reshape(exact.shape)
        kl_v0.append(sum(kl(e, q) for e, q in zip(exact, v0)))
        kl_v1.append(sum(kl(e, q) for e, q in zip(exact, v1)))
    assert np.mean(kl_v1) < 0.7 * np.mean(kl_v0)


def test_bb_is_close_to_exact_posterior_with_likelihood():
    rng = np.random.default_rng(2)
    kl_bb, kl_slotwise, kl_undamped = [], [], []
    for _ in range(60):
        hand, mask = random_position(rng, VERY_SMALL_COUNTS, num_slots=4, keep=0.8)
        likelihood = rng.random(mask.shape).astype(np.float32) ** 2
        likelihood[np.arange(4), hand] = np.maximum(likelihood[np.arange(4), hand], 0.05)
        exact = exact_marginals(mask, VERY_SMALL_COUNTS, likelihood)
        ck, c = as_belief_input(mask), VERY_SMALL_COUNTS.astype(np.float32)
        bb = np.asarray(hanabi_belief.bb_belief(ck, c, as_belief_input(likelihood))).reshape(
            exact.shape
        )
        slotwise = np.asarray(
            hanabi_belief.bb_belief(ck, c, as_belief_input(likelihood), num_iterations=0)
        ).reshape(exact.shape)
        undamped = np.asarray(
            hanabi_belief.bb_belief(
                ck, c, as_belief_input(likelihood), num_iterations=3, damping=0.0
            )
        )
        kl_bb.append(sum(kl(e, q) for e, q in zip(exact, bb)))
        kl_slotwise.append(sum(kl(e, q) for e, q in zip(exact, slotwise)))
        kl_undamped.append(sum(kl(e, q) for e, q in zip(exact, undamped.reshape(exact.shape))))
    assert np.mean(kl_bb) < 0.01
    assert np.mean(kl_bb) < 0.1 * np.mean(kl_slotwise)
    # Undamped, odd rounds can clip a value the exact posterior keeps down to zero.
    assert np.mean(kl_undamped) > 10 * np.mean(kl_bb)


def test_v1_never_below_v0_in_log_likelihood_of_true_hand_on_average():
    rng = np.random.default_rng(3)
    counts = np.tile([3, 2, 2, 2, 1], 2)  # two colors
    hands, masks = zip(*(random_position(rng, counts, num_slots=4, keep=0.5) for _ in range(500)))
    ck = np.stack([as_belief_input(m) for m in masks])
    true = np.stack(hands).reshape(-1, 2, 2)
    c = np.broadcast_to(counts.astype(np.float32), (500, counts.size))
    slot_mask = np.ones(true.shape, bool)
    ce_v0 = hanabi_belief.belief_cross_entropy(hanabi_belief.v0_belief(ck, c), true, slot_mask)
    ce_v1 = hanabi_belief.belief_cross_entropy(hanabi_belief.v1_belief(ck, c), true, slot_mask)
    assert ce_v1 <= ce_v0


def test_empty_slots_are_zero_and_inconsistent_slots_fall_back_to_v0():
    mask = np.zeros((2, 2, 3), np.float32)
    mask[0, 0] = [1, 1, 0]
    mask[0, 1] = [1, 0, 0]
    mask[1, 0] = [1, 0, 0]  # three slots claim value 0 but only one copy remains
    counts = np.array([1, 1, 0], np.float32)
    for belief in (
        hanabi_belief.v0_belief(mask, counts),
        hanabi_belief.v1_belief(mask, counts),
        hanabi_belief.v2_belief(mask, counts, np.ones_like(mask), alpha=0.1),
    ):
        belief = np.asarray(belief)
        assert np.all(np.isfinite(belief))
        np.testing.assert_array_equal(belief[1, 1], 0.0)
        np.testing.assert_allclose(belief[[0, 0, 1], [0, 1, 0]].sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(hanabi_belief.v1_belief(mask, counts)[0, 1], [1, 0, 0])


def test_v2_mixes_bb_and_v1():
    rng = np.random.default_rng(4)
    hand, mask = random_position(rng, VERY_SMALL_COUNTS, num_slots=4)
    ck, c = as_belief_input(mask), VERY_SMALL_COUNTS.astype(np.float32)
    likelihood = as_belief_input(rng.random(mask.shape).astype(np.float32))
    v2 = hanabi_belief.v2_belief(ck, c, likelihood, alpha=0.1)
    expected = 0.9 * hanabi_belief.bb_belief(ck, c, likelihood) + 0.1 * hanabi_belief.v1_belief(
        ck, c
    )
    np.testing.assert_allclose(v2, expected, rtol=1e-6)


@pytest.mark.parametrize("fn", [hanabi_belief.v0_belief, hanabi_belief.v1_belief])
def test_batched_under_jit_and_vmap(fn):
    rng = np.random.default_rng(5)
    ck = (rng.random((8, 3, 4, 10)) < 0.6).astype(np.float32)
    ck[..., 0] = 1.0
    c = rng.integers(1, 4, size=(8, 10)).astype(np.float32)
    batched = jax.jit(fn)(ck, c)
    mapped = jax.vmap(fn)(ck, c)
    np.testing.assert_allclose(batched, mapped, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batched[3], fn(ck[3], c[3]), rtol=1e-5, atol=1e-6)
