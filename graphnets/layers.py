"""MLPs whose first layer can read a concatenation without building it.

A GN block feeds its update function the concatenation of several fields, most
of them gathered per edge or per node (sender features, globals of the edge's
graph, ...). The first layer of the update is linear, so

    concat([a[i], b[j], c]) @ W == (a @ W_a)[i] + (b @ W_b)[j] + c @ W_c

with W split row-wise into W_a, W_b, W_c. Projecting each field once per row of
its own array and gathering the projections is the same math with the same
parameters, but costs a node's matmul once per node instead of once per edge.
`MLP.call_on_parts` is that path; `MLP.__call__` is the plain one.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike


class Part(NamedTuple):
    """One slice of a concatenated input: rows `features[pre_indices][indices]`.

    Either index may be None (no gather at that level).
    """

    features: jax.Array
    indices: jax.Array | None = None
    pre_indices: jax.Array | None = None


def compute_dtype(dtype: DTypeLike) -> np.dtype:
    """The dtype that parameters and outputs take for features of `dtype`.

    Floats keep their precision as far as jax allows: float64 becomes float32
    unless `jax_enable_x64` is on (jax would truncate it anyway); bool and
    integer features are computed in float32.
    """
    if jnp.issubdtype(dtype, jnp.floating):
        return jax.dtypes.canonicalize_dtype(dtype)
    return np.dtype(np.float32)


def _gather(table: jax.Array, indices: jax.Array | None) -> jax.Array:
    """`table[indices]`, or `table` when indices is None."""
    table = jnp.asarray(table)
    return table if indices is None else table[indices]


def gather_part(part: Part) -> jax.Array:
    """The rows that `part` contributes to the concatenated input."""
    return _gather(_gather(part.features, part.pre_indices), part.indices)


def concat_parts(parts: Sequence[Part]) -> jax.Array:
    """The concatenated input that `parts` describe, materialised."""
    return jnp.concatenate([gather_part(p) for p in parts], axis=-1)


class SplitLinear(hk.Module):
    """A linear layer (parameters `w`, `b` exactly as `hk.Linear`) that can also read parts."""

    def __init__(self, output_size: int, name: str | None = None):
        super().__init__(name=name)
        self.output_size = output_size

    def _params(self, input_size: int, dtype) -> tuple[jax.Array, jax.Array]:
        """The weight matrix and bias, created with hk.Linear's initialisers on first use."""
        w_init = hk.initializers.TruncatedNormal(stddev=1.0 / input_size**0.5)
        w = hk.get_parameter("w", [input_size, self.output_size], dtype, init=w_init)
        b = hk.get_parameter("b", [self.output_size], dtype, init=jnp.zeros)
        return w, b

    def __call__(self, inputs: jax.Array) -> jax.Array:
        inputs = jnp.asarray(inputs)
        w, b = self._params(inputs.shape[-1], compute_dtype(inputs.dtype))
        return inputs @ w + b

    def call_on_parts(self, parts: Sequence[Part]) -> jax.Array:
        """`self(concat_parts(parts))`, projecting each part before gathering it.

        Parts gathered by the same `indices` array are summed before the
        gather, so each distinct index array costs one gather.
        """
        sizes = [p.features.shape[-1] for p in parts]
        w, b = self._params(
            sum(sizes), compute_dtype(jnp.result_type(*[p.features for p in parts]))
        )
        tables: dict[int | None, tuple[jax.Array | None, jax.Array]] = {}
        start = 0
        for part, size in zip(parts, sizes):
            table = _gather(jnp.asarray(part.features) @ w[start : start + size], part.pre_indices)
            key = None if part.indices is None else id(part.indices)
            if key in tables:
                table = tables[key][1] + table
            tables[key] = (part.indices, table)
            start += size
        return sum(_gather(table, indices) for indices, table in tables.values()) + b


class MLP(hk.Module):
    """Linear layers with an activation between them, optionally followed by LayerNorm.

    Parameters are named like `hk.nets.MLP` (`linear_0`, `linear_1`, ...), plus
    `layer_norm` when enabled.
    """

    def __init__(
        self,
        output_sizes: Sequence[int],
        activation: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        activate_final: bool = False,
        layer_norm: bool = False,
        name: str | None = None,
    ):
        super().__init__(name=name)
        self.activation = activation
        self.activate_final = activate_final
        self.first_layer = SplitLinear(output_sizes[0], name="linear_0")
        self.later_layers = [
            hk.Linear(size, name=f"linear_{i}") for i, size in enumerate(output_sizes) if i > 0
        ]
        self.layer_norm = None
        if layer_norm:
            self.layer_norm = hk.LayerNorm(
                axis=-1, create_scale=True, create_offset=True, name="layer_norm"
            )

    def __call__(self, inputs: jax.Array) -> jax.Array:
        return self._after_first_matmul(self.first_layer(inputs))

    def call_on_parts(self, parts: Sequence[Part]) -> jax.Array:
        """`self(concat_parts(parts))` without materialising the concatenation."""
        return self._after_first_matmul(self.first_layer.call_on_parts(parts))

    def _after_first_matmul(self, hidden: jax.Array) -> jax.Array:
        """The layers after the first one's matmul, and the final activation and LayerNorm."""
        for layer in self.later_layers:
            hidden = layer(self.activation(hidden))
        if self.activate_final:
            hidden = self.activation(hidden)
        if self.layer_norm is not None:
            hidden = self.layer_norm(hidden)
        return hidden


def apply_model(model: Callable[[jax.Array], jax.Array], parts: Sequence[Part]) -> jax.Array:
    """Applies `model` to the concatenation of `parts`, by parts when the model supports it."""
    call_on_parts = getattr(model, "call_on_parts", None)
    if call_on_parts is not None:
        return call_on_parts(parts)
    return model(concat_parts(parts))
