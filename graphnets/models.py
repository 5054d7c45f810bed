"""Model factories and the Encode-Process-Decode model of graph_nets' demos."""

from collections.abc import Callable, Sequence

import haiku as hk
import jraph

from graphnets import utils
from graphnets.blocks import Reducer, segment_sum
from graphnets.layers import MLP
from graphnets.modules import GraphIndependent, GraphNetwork
from graphnets.utils import with_default_fields


def make_mlp(
    output_sizes: Sequence[int],
    layer_norm: bool = True,
    activate_final: bool = True,
    name: str | None = None,
) -> Callable[[], MLP]:
    """A factory of ReLU MLPs with the given layer sizes, optionally ending in LayerNorm.

    The MLPs read concatenated block inputs by parts (see `graphnets.layers`).
    """
    sizes = tuple(output_sizes)
    return lambda: MLP(sizes, activate_final=activate_final, layer_norm=layer_norm, name=name)


def make_linear(output_size: int | None, name: str | None = None) -> Callable[[], hk.Linear] | None:
    """A factory of linear layers of the given size, or None for no layer."""
    if output_size is None:
        return None
    return lambda: hk.Linear(output_size, name=name)


class EncodeProcessDecode(hk.Module):
    """Encoder, recurrent GN core and decoder, as in graph_nets' demos.

        input -> encoder -> latent0 --+-> concat -> core -> latent -> decoder -> output transform
                                      ^                      |
                                      +----------------------+  (num_processing_steps times)

    The encoder and decoder are GraphIndependent MLPs, the core a full
    GraphNetwork, all with `num_layers` layers of `latent_size` units and
    LayerNorm. The core's input at each step is the encoded input concatenated
    with the previous latent (the encoding itself at the first step). A field
    with output size None is not produced (it is None in the outputs). The
    core's aggregations (edges to nodes, edges and nodes to globals) use
    `reducer` (sum by default; `graphnets.blocks.segment_mean` or
    `segment_max` make them independent of how many rows are aggregated).

    The input graph needs nodes; missing edges or globals are taken as zeros
    (`graphnets.with_default_fields`).
    Padded graphs (see `graphnets.utils.pad_to`) are fine: padding never
    reaches real graphs.
    """

    def __init__(
        self,
        edge_output_size: int | None,
        node_output_size: int | None,
        global_output_size: int | None,
        latent_size: int = 16,
        num_layers: int = 2,
        reducer: Reducer | str = segment_sum,
        name: str | None = None,
    ):
        super().__init__(name=name)
        mlp = make_mlp([latent_size] * num_layers)
        self._encoder = GraphIndependent(mlp, mlp, mlp, name="encoder")
        self._core = GraphNetwork(mlp, mlp, mlp, reducer=reducer, name="core")
        self._decoder = GraphIndependent(mlp, mlp, mlp, name="decoder")
        self._output_transform = GraphIndependent(
            make_linear(edge_output_size, "edge_output"),
            make_linear(node_output_size, "node_output"),
            make_linear(global_output_size, "global_output"),
            name="output_transform",
        )
        self._produce = (
            edge_output_size is not None,
            node_output_size is not None,
            global_output_size is not None,
        )

    def __call__(
        self, graph: jraph.GraphsTuple, num_processing_steps: int
    ) -> list[jraph.GraphsTuple]:
        """Returns one output graph per processing step."""
        encoded = self._encoder(with_default_fields(graph))
        latent = encoded
        outputs = []
        for _ in range(num_processing_steps):
            latent = self._core(utils.concat([encoded, latent], axis=-1))
            outputs.append(self._drop_unproduced(self._output_transform(self._decoder(latent))))
        return outputs

    def _drop_unproduced(self, graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        """Sets the fields without an output size to None."""
        produce_edges, produce_nodes, produce_globals = self._produce
        return graph._replace(
            edges=graph.edges if produce_edges else None,
            nodes=graph.nodes if produce_nodes else None,
            globals=graph.globals if produce_globals else None,
        )
