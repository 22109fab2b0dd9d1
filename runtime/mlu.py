"""Cambricon MLU backend, emulated: lowers with gir-to-mlu and runs the `mlu` form on the MLU emulator.

    build(module_text, traced, desc) -> MluFunction     (lowers with gir-to-mlu, schedule "fused")
    MluFunction(*arrays) -> outputs (NumPy, or torch CPU tensors if given torch tensors);
        `.stats` after a call: bytes per memory level, instructions per unit, modelled time
"""
from __future__ import annotations

import re

import numpy as np

from girflow.passes.emulators.mlu import MluCapacityError, MluError, emulate  # noqa: F401 (re-exported)
from girflow.passes.mlu.lower import lower_text
from girflow.runtime.backends import register_backend
from girflow.runtime.backends import schedule_option as _schedule


class MluFunction:
    def __init__(self, module_text, traced, desc, schedule="fused"):
        self.traced, self.desc, self.schedule = traced, desc, schedule
        self.usage = {}
        self.mlu = lower_text(module_text, desc, schedule, self.usage)
        self.stats = None

    def __call__(self, *arrays):
        is_torch = arrays and type(arrays[0]).__module__.startswith("torch")
        if is_torch:
            import torch

            dtype = arrays[0].dtype
            np_in = [a.detach().to(torch.float32).numpy() if a.dtype == torch.bfloat16 else a.detach().numpy()
                     for a in arrays]
        else:
            np_in = [np.asarray(a) for a in arrays]
        outs, self.stats = emulate(self.mlu, np_in, self.desc)
        outs = [o.reshape(v) for o, v in zip(outs, self.traced.output_views)]
        if is_torch:
            import torch

            outs = [torch.from_numpy(np.ascontiguousarray(o)).to(dtype) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def report(self) -> str:
        launch = re.search(r"mlu.launch = \{clusters = (\d+) : i64, cores_per_cluster = (\d+) : i64, tasks = (\d+)", self.mlu)
        tile = re.search(r"mlu.tile = array<i64: ([\d, ]+)>", self.mlu)
        head = (f"mlu [{self.desc['name']}] schedule={self.schedule} tasks={launch.group(3) if launch else '?'} "
                f"({launch.group(1) if launch else '?'} clusters x {launch.group(2) if launch else '?'} cores) "
                f"tile rows={tile.group(1) if tile else '?'}; on-chip per core/cluster: "
                + ", ".join(f"{k} {v} B" for k, v in self.usage.items() if v))
        return head + ("\n  last run: " + self.stats.summary() if self.stats else "")


def build(module_text: str, traced, desc: dict, options: str = "") -> MluFunction:
    return MluFunction(module_text, traced, desc, _schedule(options, "fused"))


register_backend("mlu", build)


if __name__ == "__main__":  # python -m girflow.runtime.mlu [ROWS COLS]: modelled times, fused vs naive
    from girflow.tools.target_bench import mlu_main

    mlu_main()
