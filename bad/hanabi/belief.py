"""Factorised public beliefs over Hanabi hands (BAD, Foerster et al. 2019, section 5).

The public belief gives, for every hand slot of every player, a distribution over card values
(`value = color * ranks + rank`). It is built only from public facts, as defined in
`games.hanabi.config`:

* `card_knowledge` `HM`: [..., players, hand_size, values], 1 where the hints so far allow the
  value (all zeros for an empty slot);
* `remaining_counts` `C`: [..., values], copies of each value not yet discarded or played, i.e.
  in the deck or in some hand.

Beliefs, all [..., players, hand_size, values] and normalized over values (empty slots all zero):

* V0: `B0(f[i]) ~ C * HM(f[i])`: each slot on its own.
* V1: card-count consistency, iterated
  `B_{k+1}(f[i]) ~ max(C - sum_{j != i} B_k(f[j]), 0) * HM(f[i])`: copies believed to sit in the
  other slots are not available to this one.
* BB: the V1 iteration with the BAD likelihood `L(f[i])` of the observed actions folded in,
  `B_{k+1}(f[i]) ~ max(C - sum_{j != i} B_k(f[j]), 0) * HM(f[i]) * L(f[i])`.
* V2: `(1 - alpha) * BB + alpha * V1`, which keeps some mass on values the (learned, possibly
  overconfident) likelihood has ruled out.

The iteration is damped (each round moves halfway to the update by default): undamped, with a
sharp likelihood it falls into a two-cycle and its odd rounds are far from the exact posterior
(measured in `tests/bad/test_hanabi_belief.py`, which compares every belief with exact Bayes over
all joint hands). Where an iteration leaves a slot with no mass (the counts are approximate, so
the subtraction can exhaust every allowed value), that slot falls back to its V0 belief rather than
to zeros or NaNs.
Everything is elementwise or a reduction over the leading slot axes, so any batch shape works
under `jit` and `vmap`.
"""

from __future__ import annotations

import jax.numpy as jnp

DEFAULT_ITERATIONS = 3
DEFAULT_DAMPING = 0.5


def _normalize(weights: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Normalizes over the last axis; returns (distribution or zeros, whether it had mass)."""
    total = weights.sum(axis=-1, keepdims=True)
    has_mass = total > 0
    return jnp.where(has_mass, weights / jnp.where(has_mass, total, 1.0), 0.0), has_mass


def v0_belief(card_knowledge: jnp.ndarray, remaining_counts: jnp.ndarray) -> jnp.ndarray:
    """V0: each slot's belief is proportional to the remaining counts times its hint mask."""
    counts = remaining_counts[..., None, None, :].astype(jnp.float32)
    belief, _ = _normalize(counts * card_knowledge.astype(jnp.float32))
    return belief


def _count_consistent_iteration(
    card_knowledge: jnp.ndarray,
    remaining_counts: jnp.ndarray,
    likelihood: jnp.ndarray,
    num_iterations: int,
    damping: float,
) -> jnp.ndarray:
    """Iterates `B(f[i]) ~ max(C - sum_{j != i} B(f[j]), 0) * HM(f[i]) * L(f[i])` from V0 * L.

    Each round moves the belief a fraction `1 - damping` of the way to the update. The fixed point
    is the undamped one; damping only stops the two-cycle the plain iteration falls into when a
    sharp likelihood is present (slots alternately over- and under-claim the same copies).
    """
    mask = card_knowledge.astype(jnp.float32)
    counts = remaining_counts[..., None, None, :].astype(jnp.float32)
    prior = mask * likelihood
    fallback, _ = _normalize(counts * prior)
    belief = fallback
    for _ in range(num_iterations):
        held_elsewhere = belief.sum(axis=(-3, -2), keepdims=True) - belief
        available = jnp.maximum(counts - held_elsewhere, 0.0)
        updated, has_mass = _normalize(available * prior)
        updated = jnp.where(has_mass, updated, fallback)
        belief = damping * belief + (1.0 - damping) * updated
    return belief


def v1_belief(
    card_knowledge: jnp.ndarray,
    remaining_counts: jnp.ndarray,
    num_iterations: int = DEFAULT_ITERATIONS,
    damping: float = DEFAULT_DAMPING,
) -> jnp.ndarray:
    """V1: V0 refined by `num_iterations` rounds of card-count consistency across all slots."""
    ones = jnp.ones(card_knowledge.shape, jnp.float32)
    return _count_consistent_iteration(card_knowledge, remaining_counts, ones, num_iterations,
                                       damping)


def bb_belief(
    card_knowledge: jnp.ndarray,
    remaining_counts: jnp.ndarray,
    likelihood: jnp.ndarray,
    num_iterations: int = DEFAULT_ITERATIONS,
    damping: float = DEFAULT_DAMPING,
) -> jnp.ndarray:
    """BB: the V1 iteration with the per-slot BAD likelihood `L(f[i])` folded in.

    Args:
      card_knowledge: [..., players, hand_size, values] hint masks.
      remaining_counts: [..., values] publicly remaining copies of each value.
      likelihood: [..., players, hand_size, values], the probability of the actions observed so far
        for each value of each slot (the product over actions of the partial policies'
        likelihoods), up to a constant per slot.
      num_iterations: rounds of card-count consistency.
      damping: weight of the previous belief in each round (0 is the plain iteration).
    """
    return _count_consistent_iteration(card_knowledge, remaining_counts,
                                       likelihood.astype(jnp.float32), num_iterations, damping)


def v2_belief(
    card_knowledge: jnp.ndarray,
    remaining_counts: jnp.ndarray,
    likelihood: jnp.ndarray,
    alpha: float = 0.01,
    num_iterations: int = DEFAULT_ITERATIONS,
    damping: float = DEFAULT_DAMPING,
) -> jnp.ndarray:
    """V2: `(1 - alpha) * BB + alpha * V1` (the paper uses alpha 0.01 or 0.1)."""
    bb = bb_belief(card_knowledge, remaining_counts, likelihood, num_iterations, damping)
    v1 = v1_belief(card_knowledge, remaining_counts, num_iterations, damping)
    return (1.0 - alpha) * bb + alpha * v1


def belief_cross_entropy(belief: jnp.ndarray, true_values: jnp.ndarray,
                         slot_mask: jnp.ndarray) -> jnp.ndarray:
    """Mean per-card cross-entropy `-log B(true value)` over the occupied slots.

    Args:
      belief: [..., players, hand_size, values].
      true_values: [..., players, hand_size] int, the real card in each slot.
      slot_mask: [..., players, hand_size] bool, which slots hold a card.
    """
    prob = jnp.take_along_axis(belief, true_values[..., None].astype(jnp.int32), axis=-1)[..., 0]
    log_prob = jnp.log(jnp.maximum(prob, 1e-12))
    mask = slot_mask.astype(jnp.float32)
    return -(log_prob * mask).sum() / jnp.maximum(mask.sum(), 1.0)
