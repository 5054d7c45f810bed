"""BAD, BAD without counterfactual gradients, and independent policy gradient on `tiny_hanabi`.

The game: every player is dealt a private card; players act in turn, each seeing all earlier
actions; everyone gets the same payoff. Player p's policy input is
`[one-hot actions of players < p, public beliefs over their cards (BAD only), one-hot own card]`;
player 0 has no public input and its policy is a logit table, later players' policies and every
player's baseline are MLPs with one hidden ReLU layer (as published). Every player but the last
samples a deterministic partial policy (an action for each card it could hold) with a shared key,
plays the one for its real card, and the public belief over its card is updated exactly
(`bad.belief`). Methods (`METHODS`):

* `bad_cf`: beliefs as inputs; non-last players' log-probability term is the counterfactual
  `sum_c log pi(pi_hat(c) | c)`, the log-probability of the whole partial policy;
* `bad`: beliefs as inputs; the usual `log pi(a | c)`;
* `pg`: no beliefs (independent policy gradient); the usual `log pi(a | c)`.

Layout, for speed. Every network input is enumerable: a public history (the earlier players'
actions and, for BAD, which of their cards were consistent with them) and cards. So each update
evaluates every network once on the table of all its distinct inputs (`Tables`), samples the
batch of games from those tables, reduces the batch to per-input sums (`BatchSums`), and
backpropagates the batch loss written over those sums. That is exactly the REINFORCE gradient of
the per-game loss `mean_i sum_p [-log_prob_ip * adv_ip + (R_i - b_ip)**2 / 2 - cost * H_ip]`,
with the network work independent of the batch size and the seeds in the free dimension of one
matrix product per layer. `exact_value` scores a policy by enumerating every deal, partial policy
and last action. The enumeration (`bad.matrix_game_enumeration`) must stay small: this is for the
small games BAD's proof of principle is about.

The whole training run of one seed is `train`, which reads top to bottom (PureJaxRL style):
initialise, then `lax.scan` over updates; `train_seeds` is `jit(vmap(train))` over seeds.
`Config` defaults are the published recipe; every other setting is a documented change.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bad import belief as belief_lib
from bad import partial_policy as partial_lib
from bad.matrix_game_enumeration import (
    Enumeration,
    Game,
    enumerate_game,
    public_features,
    with_cards,
)
from games import sampling, tiny_hanabi

METHODS = ("bad_cf", "bad", "pg")
BASELINES = ("own", "central")

Params = dict


@dataclasses.dataclass(frozen=True)
class Config:
    """Training settings; the defaults are the published recipe.

    Attributes:
      method: one of `METHODS`.
      batch_size: games per update.
      num_updates: optimizer steps.
      learning_rate: Adam step size (at the start, when `learning_rate_end` is set).
      hidden_size: ReLU units in the one hidden layer of every MLP.
      eval_every: updates between exact evaluations (must divide `num_updates`).
      learning_rate_end: change from the recipe: if set, the step size decays linearly from
        `learning_rate` to this value over training.
      entropy_cost: change from the recipe: weight of an entropy bonus on every player's policy
        at its real card, decayed linearly to `entropy_cost_end` over training.
      entropy_cost_end: final entropy weight.
      baseline: `own` (published: each baseline sees its player's policy input) or `central`
        (change: each baseline sees the public input and every player's card; still unbiased,
        because cards are dealt before, and independently of, the sampled partial policies).
      policy_init_scale: change from the recipe: multiplies the Glorot-initialised logit table
        and policy output layers (0 starts every player uniform).
      unroll: updates unrolled per `lax.scan` step (speed only; same numbers).
    """

    method: str = "bad_cf"
    batch_size: int = 32
    num_updates: int = 20_000
    learning_rate: float = 1e-3
    hidden_size: int = 32
    eval_every: int = 500
    learning_rate_end: float | None = None
    entropy_cost: float = 0.0
    entropy_cost_end: float = 0.0
    baseline: str = "own"
    policy_init_scale: float = 1.0
    unroll: int = 1

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}.")
        if self.baseline not in BASELINES:
            raise ValueError(f"unknown baseline {self.baseline!r}; choose from "
                             f"{', '.join(BASELINES)}.")
        for name in ("batch_size", "num_updates", "learning_rate", "hidden_size", "eval_every",
                     "unroll"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}.")
        if self.num_updates % self.eval_every:
            raise ValueError(f"eval_every ({self.eval_every}) must divide num_updates "
                             f"({self.num_updates}).")
        for name in ("entropy_cost", "entropy_cost_end", "policy_init_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}.")
        if self.learning_rate_end is not None and not self.learning_rate_end >= 0:
            raise ValueError(f"learning_rate_end must be non-negative, "
                             f"got {self.learning_rate_end}.")

    @property
    def uses_belief(self) -> bool:
        return self.method != "pg"

    @property
    def counterfactual(self) -> bool:
        return self.method == "bad_cf"


def game_arrays(game: tiny_hanabi.TinyHanabi) -> Game:
    """The jnp arrays of an OpenSpiel `tiny_hanabi` game."""
    return Game(jnp.asarray(game.payoffs, jnp.float32), jnp.asarray(game.chance_probs, jnp.float32))


def enumeration(game: Game, config: Config) -> Enumeration:
    """The (cached) `Enumeration` of `game` for `config.method`."""
    return enumerate_game(game.num_players, game.num_chance, game.num_actions, config.uses_belief)


# Networks, evaluated on every distinct input at once.

def policy_inputs(game: Game, config: Config, player: int) -> jax.Array:
    """float[M**p * C, F]: player p's policy input for every (history, own card)."""
    enum = enumeration(game, config)
    public = public_features(game, enum, player, config.uses_belief)
    return with_cards(public, jnp.eye(game.num_chance, dtype=jnp.float32))


def baseline_inputs(game: Game, config: Config, player: int) -> jax.Array:
    """float[rows, F]: player p's baseline input for every (history, own card or whole deal)."""
    if config.baseline == "own":
        return policy_inputs(game, config, player)
    enum = enumeration(game, config)
    public = public_features(game, enum, player, config.uses_belief)
    deals = np.array(list(itertools.product(range(game.num_chance), repeat=game.num_players)))
    one_hot_deals = jax.nn.one_hot(deals, game.num_chance, dtype=jnp.float32)
    return with_cards(public, one_hot_deals.reshape(len(deals), -1))


def init_mlp(key: jax.Array, sizes: tuple[int, int, int], output_scale: float = 1.0) -> Params:
    """One-hidden-layer MLP, Glorot-uniform weights (TF's default, as published), zero biases."""
    first, second = jax.random.split(key)
    glorot = jax.nn.initializers.glorot_uniform()
    return {"w1": glorot(first, sizes[:2], jnp.float32), "b1": jnp.zeros(sizes[1], jnp.float32),
            "w2": output_scale * glorot(second, sizes[1:], jnp.float32),
            "b2": jnp.zeros(sizes[2], jnp.float32)}


def mlp(params: Params, inputs: jax.Array) -> jax.Array:
    """`relu(inputs @ w1 + b1) @ w2 + b2`.

    The second product is written as a broadcast multiply and sum: vmapped over seeds, a matrix
    product of tiny per-seed matrices is several times slower on the CPU than this fused loop.
    """
    hidden = jax.nn.relu(inputs @ params["w1"] + params["b1"])
    return jnp.sum(hidden[:, None, :] * params["w2"].T, axis=-1) + params["b2"]


def init_params(key: jax.Array, game: Game, config: Config) -> Params:
    """Player 0's logit table, later players' policy MLPs and every player's baseline MLP."""
    players, cards, actions = game.num_players, game.num_chance, game.num_actions
    keys = jax.random.split(key, 2 * players)
    table = config.policy_init_scale * jax.nn.initializers.glorot_uniform()(
        keys[0], (cards, actions), jnp.float32)
    policies = [table] + [
        init_mlp(keys[p], (policy_inputs(game, config, p).shape[1], config.hidden_size, actions),
                 config.policy_init_scale) for p in range(1, players)]
    baselines = [init_mlp(keys[players + p],
                          (baseline_inputs(game, config, p).shape[1], config.hidden_size, 1))
                 for p in range(players)]
    return {"policy": policies, "baseline": baselines}


class Tables(NamedTuple):
    """Every network on every distinct input."""

    logits: tuple[jax.Array, ...]  # per player float[M**p * C, A]
    baselines: tuple[jax.Array, ...]  # per player float[rows]


def network_tables(params: Params, game: Game, config: Config) -> Tables:
    """Evaluates every policy and baseline on all of its inputs."""
    logits = tuple([params["policy"][0]] + [
        mlp(params["policy"][p], policy_inputs(game, config, p))
        for p in range(1, game.num_players)])
    baselines = tuple(mlp(params["baseline"][p], baseline_inputs(game, config, p))[:, 0]
                      for p in range(game.num_players))
    return Tables(logits, baselines)


# A batch of games, sampled from the tables and reduced to per-input sums.

class BatchSums(NamedTuple):
    """Sums over a batch of games, per network input (all gradient-free)."""

    advantage: tuple[jax.Array, ...]  # per player float[M**p * C, A]: sum of advantages of
    #   each (input, action) term in the log-probability (every card's term with CF)
    visits: tuple[jax.Array, ...]  # per player float[M**p * C]: games at each policy input
    baseline_visits: tuple[jax.Array, ...]  # per player float[rows]: games at each input
    baseline_returns: tuple[jax.Array, ...]  # per player float[rows]: sum of their rewards
    mean_reward: jax.Array  # float[]


def weighted_counts(index: jax.Array, weights: jax.Array, size: int) -> jax.Array:
    """float[size]: the sum of `weights` at each value of `index` (same shapes)."""
    return jnp.zeros(size, jnp.float32).at[index.reshape(-1)].add(
        jnp.broadcast_to(weights, index.shape).reshape(-1))


def batch_uniforms(key: jax.Array, game: Game, config: Config) -> jax.Array:
    """float[B, P + C * (P - 1) + 1]: per game, uniforms for the deal, the partial policies, the
    last action."""
    players, cards = game.num_players, game.num_chance
    return jax.random.uniform(key, (config.batch_size, players + cards * (players - 1) + 1))


def sample_batch(key: jax.Array, tables: Tables, game: Game, config: Config) -> BatchSums:
    """Deals and plays `config.batch_size` games with partial policies and exact beliefs.

    Every random choice is an inverse-CDF sample from one uniform draw per game: the deal, the
    partial policy of each non-last player (one uniform per card; all players share it, which is
    what lets them reconstruct the partial policy) and the last player's action.
    """
    enum = enumeration(game, config)
    players, cards_n, actions_n = game.num_players, game.num_chance, game.num_actions
    uniform = batch_uniforms(key, game, config)
    cards = sampling.sample_with_uniform(uniform[:, :players], game.chance_probs)
    uniform = uniform[:, players:]
    history = jnp.zeros(config.batch_size, jnp.int32)
    actions, policy_rows, logprob_terms = [], [], []
    for p in range(players):
        probs = jax.nn.softmax(tables.logits[p], axis=-1)
        row = history * cards_n + cards[:, p]
        if p < players - 1:
            rows_every_card = history[:, None] * cards_n + jnp.arange(cards_n)
            partial = partial_lib.partial_policy_from_uniform(
                uniform[:, p * cards_n:(p + 1) * cards_n], probs[rows_every_card])
            action = partial_lib.played_action(partial, cards[:, p])
            mask = jnp.sum(belief_lib.consistent_values(partial, action).astype(jnp.int32)
                           << jnp.arange(cards_n), axis=-1)
            history = history * enum.num_codes + jnp.asarray(enum.code_of)[action, mask]
            if config.counterfactual:
                logprob_terms.append(rows_every_card * actions_n + partial)
            else:
                logprob_terms.append(row * actions_n + action)
        else:
            action = sampling.sample_with_uniform(uniform[:, -1], probs[row])
            logprob_terms.append(row * actions_n + action)
        actions.append(action)
        policy_rows.append(row)
    rewards = tiny_hanabi.reward(game.payoffs, cards, jnp.stack(actions, axis=1))
    if config.baseline == "own":
        baseline_rows = policy_rows
    else:
        deal_index = jnp.ravel_multi_index(tuple(cards.T), (cards_n,) * players, mode="clip")
        baseline_rows = [(row // cards_n) * cards_n ** players + deal_index for row in policy_rows]
    advantage, visits, baseline_visits, baseline_returns = [], [], [], []
    for p in range(players):
        rows = tables.logits[p].shape[0]
        adv = rewards - tables.baselines[p][baseline_rows[p]]
        terms = logprob_terms[p]
        advantage.append(weighted_counts(terms, adv.reshape(adv.shape + (1,) * (terms.ndim - 1)),
                                         rows * actions_n).reshape(rows, actions_n))
        visits.append(weighted_counts(policy_rows[p], jnp.ones_like(rewards), rows))
        size = tables.baselines[p].shape[0]
        baseline_visits.append(weighted_counts(baseline_rows[p], jnp.ones_like(rewards), size))
        baseline_returns.append(weighted_counts(baseline_rows[p], rewards, size))
    return BatchSums(tuple(advantage), tuple(visits), tuple(baseline_visits),
                     tuple(baseline_returns), jnp.mean(rewards))


def table_loss(tables: Tables, sums: BatchSums, batch_size: int,
               entropy_cost: jax.Array) -> jax.Array:
    """The batch's loss over the network tables; its gradient is the per-game REINFORCE one.

    Per player: `-sum(advantage * log pi) / B` (REINFORCE with the baseline's advantage),
    `sum(visits * b**2 / 2 - returns * b) / B` (the squared error `(R - b)**2 / 2` up to a
    constant), and `-entropy_cost * sum(visits * H(pi)) / B`.
    """
    loss = jnp.asarray(0.0)  # weakly typed, like the Python 0.0: the tables' dtype wins
    for p, logits in enumerate(tables.logits):
        log_probs = jax.nn.log_softmax(logits, axis=-1)
        entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)
        baseline = tables.baselines[p]
        loss += (-jnp.sum(sums.advantage[p] * log_probs)
                 + jnp.sum(sums.baseline_visits[p] * baseline ** 2 / 2
                           - sums.baseline_returns[p] * baseline)
                 - entropy_cost * jnp.sum(sums.visits[p] * entropy))
    return loss / batch_size


# Exact scoring.

def exact_value_of_tables(logits: tuple[jax.Array, ...], game: Game, config: Config) -> jax.Array:
    """Expected payoff of the policies `logits`, summed over every deal and choice."""
    enum = enumeration(game, config)
    probs = jnp.concatenate([jax.nn.softmax(table, axis=-1).reshape(-1) for table in logits])
    path_probs = jnp.prod(probs[enum.path_terms], axis=1)
    chance = jnp.prod(game.chance_probs[enum.path_cards], axis=1)
    rewards = tiny_hanabi.reward(game.payoffs, jnp.asarray(enum.path_cards),
                                 jnp.asarray(enum.path_actions))
    return jnp.sum(chance * path_probs * rewards)


def exact_value(params: Params, game: Game, config: Config) -> jax.Array:
    """Expected payoff of the trained (stochastic) policies, exactly."""
    return exact_value_of_tables(network_tables(params, game, config).logits, game, config)


# Training.

def optimizer(config: Config) -> optax.GradientTransformation:
    """Adam, with the linear step-size decay when `learning_rate_end` is set."""
    if config.learning_rate_end is None:
        return optax.adam(config.learning_rate)
    return optax.adam(optax.linear_schedule(
        config.learning_rate, config.learning_rate_end, config.num_updates))


class TrainOutput(NamedTuple):
    params: Params
    exact_reward: jax.Array  # float[num_updates // eval_every + 1], at 0, eval_every, ...
    train_reward: jax.Array  # float[num_updates // eval_every]: mean batch reward per period


def train(key: jax.Array, game: Game, config: Config) -> TrainOutput:
    """One seed's whole training run."""
    init_key, train_key = jax.random.split(key)
    params = init_params(init_key, game, config)
    opt = optimizer(config)
    entropy_cost = optax.linear_schedule(
        config.entropy_cost, config.entropy_cost_end, config.num_updates)

    def update(carry, step):
        params, opt_state = carry
        tables, backprop = jax.vjp(lambda p: network_tables(p, game, config), params)
        sums = sample_batch(jax.random.fold_in(train_key, step), tables, game, config)
        table_grads = jax.grad(table_loss)(tables, sums, config.batch_size, entropy_cost(step))
        updates, opt_state = opt.update(backprop(table_grads)[0], opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), sums.mean_reward

    def evaluation_period(carry, first_step):
        steps = first_step + jnp.arange(config.eval_every)
        carry, rewards = jax.lax.scan(update, carry, steps, unroll=config.unroll)
        return carry, (exact_value(carry[0], game, config), jnp.mean(rewards))

    initial_value = exact_value(params, game, config)
    starts = jnp.arange(0, config.num_updates, config.eval_every)
    (params, _), (exact, train_rewards) = jax.lax.scan(
        evaluation_period, (params, opt.init(params)), starts)
    return TrainOutput(params, jnp.concatenate([initial_value[None], exact]), train_rewards)


# XLA's YNNPACK fusions on the CPU run these many tiny reductions several times slower than its
# own loop emitter (measured: about 3x per update for 1,000 seeds); other backends ignore this.
@functools.partial(jax.jit, static_argnums=2,
                   compiler_options={"xla_cpu_experimental_ynn_fusion_type": ""})
def train_seeds(keys: jax.Array, game: Game, config: Config) -> TrainOutput:
    """`train` for every key in `keys` (one per seed), as one compiled, vmapped function."""
    return jax.vmap(train, in_axes=(0, None, None))(keys, game, config)
