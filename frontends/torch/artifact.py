"""What the girflow backend hands back to AOTAutograd: a serialisable compiled graph.

torch.compile reaches a warm start without tracing again only through artifacts torch can store:
AOTAutograd's cache (`torch._functorch.config.enable_autograd_cache`, on by default) and Dynamo's
precompile cache (`TORCH_CACHING_PRECOMPILE=1`, experimental in torch 2.13) store a compiled graph
only when the backend's compiler is a `SerializableAOTDispatchCompiler` whose output is an
`OutputCode` that serialises. A `GirGraph` stores the ATen graph AOTAutograd gave it (through torch's
GraphPickler), not its kernels: loading partitions that graph again (milliseconds) and each region
finds its kernel in girflow's own caches (`torch-regions`, `kernels`) on its first call.
"""
from __future__ import annotations

from typing import Any

import torch
from torch._inductor.output_code import OutputCode


class GirGraph(OutputCode):
    """The partitioned graph for one AOTAutograd graph ("forward", "backward" or "inference")."""

    def __init__(self, gm: torch.fx.GraphModule, kind: str):
        super().__init__()
        self.kind = kind
        self._boxed_call = True
        self._serialized = _dumps(gm)       # before partitioning rewrites `gm` in place
        self._source: Any = gm
        self._partitioned: Any = None
        self._saved_package = False
        self._partition()

    def _partition(self) -> None:
        from girflow.frontends.torch import partition_graph

        self._partitioned = partition_graph(self._source, self.kind)

    def __call__(self, inputs: list) -> Any:
        if not self._saved_package:
            self._saved_package = True
            _save_precompiled()
        return self._partitioned(*inputs)

    def prepare_for_serialization(self) -> None:
        """Called on a shallow copy before pickling: only the ATen graph's bytes remain."""
        from torch._functorch._aot_autograd.autograd_cache import BypassAOTAutogradCache

        if self._serialized is None:
            raise BypassAOTAutogradCache("torch's GraphPickler could not store this graph")
        self._source = self._partitioned = None

    def post_compile(self, example_inputs, constants, graph_kwargs) -> None:
        """After loading: the ATen graph back, partitioned again (regions compile lazily, from
        girflow's caches)."""
        if self._partitioned is not None:
            return
        from torch._subclasses import FakeTensorMode
        from torch.fx._graph_pickler import GraphPickler
        from torch.fx.experimental.symbolic_shapes import ShapeEnv

        gm = GraphPickler.loads(self._serialized, FakeTensorMode(shape_env=ShapeEnv()))
        gm.recompile()
        self._source, self._saved_package = gm, False
        self._partition()

    def set_triton_bundle(self, triton_bundle: Any) -> None:
        """No Triton kernels here."""


def _dumps(gm: torch.fx.GraphModule) -> bytes | None:
    from torch.fx._graph_pickler import GraphPickler, Options

    try:
        return GraphPickler.dumps(gm, Options(ops_filter=None))
    except Exception:  # noqa: BLE001 - not storable: this graph is compiled again in a new process
        return None


def _save_precompiled() -> None:
    """Under Dynamo's caching precompile, write what Dynamo recorded (guards, bytecode, these
    graphs) on the first run of a graph, when Dynamo has finished recording its frame: the next
    process loads it instead of tracing."""
    if not torch._dynamo.config.caching_precompile:
        return
    from torch._dynamo.precompile_context import PrecompileContext

    try:
        PrecompileContext.save_to_dynamo_cache()
    except Exception:  # noqa: BLE001 - a package torch cannot save: the next start traces again
        pass
