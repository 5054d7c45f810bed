"""Self-play training of the Hanabi agents (`bad.hanabi.agent`): PPO on vmap-ed JAX Hanabi games.

The whole actor + learner loop is one compiled function (PureJaxRL style), read top to bottom:

1. `rollout`: `rollout_length` moves in each of `num_envs` games (`lax.scan`). The player to move
   acts (`hanabi_agent.act`, one shared key per game and move), its critic values the state, the
   game steps (finished games are dealt again) and the public belief's evidence follows.
2. `gae`: generalised advantage estimates on the common-payoff reward (`rlax`).
3. `learn`: `num_epochs` passes of `num_minibatches` PPO steps: clipped surrogate
   (`rlax.clipped_surrogate_pg_loss`) on the decision's log-probability (for BAD including the
   counterfactual term), squared value error and an entropy bonus, Adam with gradient clipping.
   With `anneal_updates > 0` the learning rate and the entropy weight fall linearly to
   `final_learning_rate_fraction` and `final_entropy_fraction` of their initial values over that
   many updates (`annealed`), then stay there.

`update` is `rollout` then `learn`; `train_updates` scans it `num_updates` times. Where more
than one device exists, `shard_over_devices` splits the games over them (the parameters are
replicated and the compiled function all-reduces the gradients). Every random draw comes from
`TrainState.key`, so the same seed gives the same numbers, and a `TrainState` restored from a
checkpoint continues exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
import rlax
from jax.sharding import Mesh

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import belief as hanabi_belief
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent import AgentConfig
from games.hanabi import jax_game as hanabi_jax
from games.hanabi import rules as hanabi_rules
from infra.devices import batch_sharding, data_mesh, replicated_sharding


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training settings (hashable: a static argument to `jax.jit`); `num_minibatches` must
    divide `steps_per_update`. The defaults are `experiments.bad_hanabi`'s flag defaults.

    Attributes:
      agent: the agent's settings.
      num_envs: Games played side by side.
      rollout_length: Moves per game between updates.
      num_epochs: PPO epochs per rollout.
      num_minibatches: PPO minibatches per epoch.
      learning_rate: Adam learning rate.
      entropy_weight: Weight of the entropy bonus.
      value_weight: Weight of the value loss.
      discount: Discount of the common payoff.
      gae_lambda: Lambda of the generalised advantage estimates.
      clip_epsilon: PPO's clipping of the probability ratio.
      max_grad_norm: Gradients are clipped to this global norm.
      anneal_updates: Updates over which the learning rate and the entropy weight fall linearly
        to their final fractions; 0 keeps them constant.
      final_learning_rate_fraction: The learning rate falls linearly to this fraction of
        learning_rate over the run (or over --anneal_env_steps); 1 keeps it constant.
      final_entropy_fraction: The entropy weight falls linearly to this fraction of
        entropy_weight over the run; 1 keeps it constant.
    """

    agent: AgentConfig
    num_envs: int = 256
    rollout_length: int = 32
    num_epochs: int = 2
    num_minibatches: int = 4
    learning_rate: float = 5e-4
    entropy_weight: float = 0.01
    value_weight: float = 0.5
    discount: float = 0.99
    gae_lambda: float = 0.95
    clip_epsilon: float = 0.2
    max_grad_norm: float = 0.5
    anneal_updates: int = 0
    final_learning_rate_fraction: float = 1.0
    final_entropy_fraction: float = 1.0

    def __post_init__(self):
        for name in ("num_envs", "rollout_length", "num_epochs", "num_minibatches"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"TrainConfig.{name} must be at least 1, got "
                                 f"{getattr(self, name)!r}.")
        for name in ("learning_rate", "max_grad_norm", "clip_epsilon"):
            if not 0 < getattr(self, name) < math.inf:
                raise ValueError(f"TrainConfig.{name} must be positive and finite, got "
                                 f"{getattr(self, name)!r}.")
        for name in ("discount", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1], got "
                                 f"{getattr(self, name)!r}.")
        for name in ("final_learning_rate_fraction", "final_entropy_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1], got "
                                 f"{getattr(self, name)!r}.")
        for name in ("entropy_weight", "value_weight"):
            if not 0 <= getattr(self, name) < math.inf:
                raise ValueError(f"TrainConfig.{name} must be non-negative and finite, got "
                                 f"{getattr(self, name)!r}.")
        if self.steps_per_update % self.num_minibatches:
            raise ValueError(
                f"num_envs * rollout_length ({self.steps_per_update}) must be a multiple of "
                f"num_minibatches ({self.num_minibatches}).")

    @property
    def steps_per_update(self) -> int:
        """Environment steps (moves) per update, over all games."""
        return self.num_envs * self.rollout_length


class TrainState(NamedTuple):
    params: hanabi_network.Params
    opt_state: optax.OptState
    games: hanabi_jax.HanabiState      # batched [num_envs]
    log_likelihood: jax.Array          # [num_envs, ...]: each game's public-belief evidence
    key: jax.Array
    update: jax.Array                  # int32 []: updates done


class Transition(NamedTuple):
    """One move of one game, as the learner needs it (time-major [T, B] in a rollout)."""

    public_input: jax.Array
    partner_hands: jax.Array
    critic_hands: jax.Array
    legal_actions: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array
    score: jax.Array
    belief_cross_entropy: jax.Array
    sample_hands: jax.Array
    sample_action: jax.Array


def annealed(config: TrainConfig, initial: float, final_fraction: float,
             update: jax.Array) -> jax.Array:
    """`initial` falling linearly to `final_fraction * initial` over `anneal_updates` updates."""
    if config.anneal_updates <= 0:
        return jnp.asarray(initial, jnp.float32)
    progress = jnp.minimum(update / config.anneal_updates, 1.0)
    return initial * (1.0 - (1.0 - final_fraction) * progress)


def optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam with gradient clipping; its step counts minibatches, hence the schedule's divisor."""
    steps_per_update = config.num_epochs * config.num_minibatches

    def learning_rate(step: jax.Array) -> jax.Array:
        return annealed(config, config.learning_rate, config.final_learning_rate_fraction,
                        step // steps_per_update)

    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm),
                       optax.adam(learning_rate))


def init_train_state(config: TrainConfig, key: jax.Array) -> TrainState:
    """Fresh parameters and `num_envs` freshly dealt games."""
    game = config.agent.game
    params_key, games_key, key = jax.random.split(key, 3)
    params = hanabi_network.init_params(config.agent, params_key)
    games = jax.vmap(lambda k: hanabi_jax.reset(game, k))(jax.random.split(games_key,
                                                                           config.num_envs))
    evidence = hanabi_agent.initial_evidence(config.agent)
    log_likelihood = jnp.broadcast_to(evidence, (config.num_envs, *evidence.shape))
    return TrainState(params=params, opt_state=optimizer(config).init(params), games=games,
                      log_likelihood=log_likelihood, key=key, update=jnp.zeros((), jnp.int32))


def shard_over_devices(state: TrainState, mesh: Mesh | None = None) -> TrainState:
    """Splits the games over the mesh's devices (default: `infra.devices.data_mesh()`, all
    devices) and replicates the rest; no-op on one device. The mesh may span processes
    (`jax.distributed`): each process passes the same whole state and keeps its devices' games."""
    mesh = data_mesh() if mesh is None else mesh
    if mesh.devices.size == 1:
        return state
    split, replicated = batch_sharding(mesh), replicated_sharding(mesh)
    return state._replace(
        params=jax.device_put(state.params, replicated),
        opt_state=jax.device_put(state.opt_state, replicated),
        games=jax.device_put(state.games, split),
        log_likelihood=jax.device_put(state.log_likelihood, split),
        key=jax.device_put(state.key, replicated),
        update=jax.device_put(state.update, replicated))


def _critic_hands(config: AgentConfig, games: hanabi_jax.HanabiState) -> jax.Array:
    """[B, rows, hand_size]: every hand from the actor's seat (BAD) or the partners' (IPPO)."""
    relative = jax.vmap(hanabi_rules.relative_rows)(games.hands.astype(jnp.int32),
                                                    games.current_player.astype(jnp.int32))
    return relative if config.is_bad else relative[:, 1:]


def _values(config: AgentConfig, params, public_input: jax.Array, hands: jax.Array) -> jax.Array:
    return jax.vmap(hanabi_network.critic_value, (None, None, 0, 0))(config, params["critic"],
                                                                      public_input, hands)


def bootstrap_value(config: AgentConfig, params, games: hanabi_jax.HanabiState,
                    log_likelihood: jax.Array) -> jax.Array:
    """The critic's value [B] of the games' current states."""
    observation = jax.vmap(hanabi_agent.observation_from_state, (None, 0))(config.game, games)
    _, public_input = jax.vmap(hanabi_agent.public_view, (None, 0, 0))(config, observation,
                                                                       log_likelihood)
    return _values(config, params, public_input, _critic_hands(config, games))


def rollout(config: TrainConfig, state: TrainState) -> tuple[TrainState, Transition]:
    """`rollout_length` moves in every game; returns the new state and time-major transitions."""
    agent, game = config.agent, config.agent.game

    def move(carry, key):
        games, log_likelihood = carry
        act_key, deal_key = jax.random.split(key)
        observation = jax.vmap(hanabi_agent.observation_from_state, (None, 0))(game, games)
        decision, evidence = hanabi_agent.act_batch(agent, state.params, observation,
                                                    log_likelihood,
                                                    jax.random.split(act_key, config.num_envs))
        critic_hands = _critic_hands(agent, games)
        value = _values(agent, state.params, decision.public_input, critic_hands)
        cross_entropy = jax.vmap(hanabi_belief.belief_cross_entropy)(
            decision.belief, games.hands.astype(jnp.int32), games.hands >= 0)
        # Deals new games only where one ended (vmapping `auto_reset_step` deals every game).
        next_games, rewards, done, info = hanabi_jax.step_batch(game, games, decision.action,
                                                                deal_key)
        next_log_likelihood = jnp.where(done.reshape(-1, *(1,) * (evidence.ndim - 1)),
                                        hanabi_agent.initial_evidence(agent), evidence)
        transition = Transition(
            public_input=decision.public_input, partner_hands=observation.partner_hands,
            critic_hands=critic_hands, legal_actions=observation.legal_actions,
            action=decision.action, log_prob=decision.log_prob, value=value,
            reward=rewards[:, 0], done=done, score=info["score"],
            belief_cross_entropy=cross_entropy, sample_hands=decision.sample_hands,
            sample_action=decision.sample_action)
        return (next_games, next_log_likelihood), transition

    key, rollout_key = jax.random.split(state.key)
    (games, log_likelihood), transitions = jax.lax.scan(
        move, (state.games, state.log_likelihood),
        jax.random.split(rollout_key, config.rollout_length))
    return state._replace(games=games, log_likelihood=log_likelihood, key=key), transitions


def gae(config: TrainConfig, transitions: Transition,
        last_value: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(advantages, value targets), both [T, B], from time-major transitions."""
    values = jnp.concatenate([transitions.value, last_value[None]], axis=0)
    discounts = config.discount * (1.0 - transitions.done.astype(jnp.float32))
    advantages = jax.vmap(rlax.truncated_generalized_advantage_estimation,
                          in_axes=(1, 1, None, 1), out_axes=1)(
        transitions.reward, discounts, config.gae_lambda, values)
    return advantages, advantages + transitions.value


def ppo_loss(config: TrainConfig, entropy_weight: jax.Array, params, batch: Transition,
             advantages: jax.Array, targets: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Clipped surrogate + value_weight * squared error - entropy_weight * entropy, batch means."""
    agent = config.agent
    log_prob, entropy = jax.vmap(hanabi_agent.log_prob, (None, None, 0, 0, 0, 0, 0, 0))(
        agent, params, batch.public_input, batch.partner_hands, batch.legal_actions,
        batch.action, batch.sample_hands, batch.sample_action)
    ratio = jnp.exp(log_prob - batch.log_prob)
    normalized = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    policy_loss = rlax.clipped_surrogate_pg_loss(ratio, normalized, config.clip_epsilon)
    value = _values(agent, params, batch.public_input, batch.critic_hands)
    value_loss = 0.5 * jnp.mean(jnp.square(value - targets))
    mean_entropy = entropy.mean()
    loss = policy_loss + config.value_weight * value_loss - entropy_weight * mean_entropy
    return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": mean_entropy}


def update(config: TrainConfig, state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
    """One rollout and its PPO epochs; returns the new state and the update's metrics."""
    state, transitions = rollout(config, state)
    return learn(config, state, transitions)


def learn(config: TrainConfig, state: TrainState,
          transitions: Transition) -> tuple[TrainState, dict[str, jax.Array]]:
    """The PPO epochs on a rollout's `transitions` (`state` is the state after the rollout)."""
    last_value = bootstrap_value(config.agent, state.params, state.games, state.log_likelihood)
    advantages, targets = gae(config, transitions, last_value)
    flat = jax.tree.map(lambda x: x.reshape(config.steps_per_update, *x.shape[2:]),
                        (transitions, advantages, targets))
    opt = optimizer(config)
    entropy_weight = annealed(config, config.entropy_weight, config.final_entropy_fraction,
                              state.update)
    grad_fn = jax.grad(functools.partial(ppo_loss, config, entropy_weight), has_aux=True)

    def minibatch_step(carry, rows):
        params, opt_state = carry
        # Each minibatch gathers its own rows: a permuted copy of the whole rollout per epoch
        # would hold a second rollout in memory (f32[4, 2048, 1126] on 3 players).
        grads, losses = grad_fn(params, *jax.tree.map(lambda x: x[rows], flat))
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), losses

    minibatch_size = config.steps_per_update // config.num_minibatches

    def epoch(carry, key):
        order = jax.random.permutation(key, config.steps_per_update)
        return jax.lax.scan(minibatch_step, carry,
                            order.reshape(config.num_minibatches, minibatch_size))

    key, epochs_key = jax.random.split(state.key)
    (params, opt_state), losses = jax.lax.scan(
        epoch, (state.params, state.opt_state), jax.random.split(epochs_key, config.num_epochs))
    finished = transitions.done.sum()
    metrics = {
        "games_finished": finished,
        "mean_score": jnp.sum(transitions.score * transitions.done) / jnp.maximum(finished, 1),
        "belief_cross_entropy": transitions.belief_cross_entropy.mean(),
        **jax.tree.map(jnp.mean, losses),
    }
    state = state._replace(params=params, opt_state=opt_state, key=key, update=state.update + 1)
    return state, metrics


@functools.partial(hanabi_agent.jit, static_argnums=(0, 2))
def train_updates(config: TrainConfig, state: TrainState,
                  num_updates: int) -> tuple[TrainState, dict[str, jax.Array]]:
    """`num_updates` updates in one compiled call; metrics are stacked [num_updates]."""
    return jax.lax.scan(lambda s, _: update(config, s), state, None, length=num_updates)
