"""What the `arith` dialect's integer ops compute, for the interpreters that run lowered kernels on
NumPy (the gpu simulator, the MLU emulator): one table, so the two cannot drift apart."""
from __future__ import annotations

import operator
from typing import Callable

import numpy as np

# arith.cmpi predicates by their enum code (the position in this tuple) and by name
CMPI_NAMES = ("eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge")
CMPI = dict(enumerate((np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
                       np.less, np.less_equal, np.greater, np.greater_equal)))

INTEGER_OPS: dict[str, Callable] = {
    "arith.addi": operator.add, "arith.subi": operator.sub, "arith.muli": operator.mul,
    "arith.divui": operator.floordiv, "arith.divsi": operator.floordiv, "arith.floordivsi": operator.floordiv,
    "arith.remui": operator.mod, "arith.remsi": operator.mod,
    "arith.minui": np.minimum, "arith.minsi": np.minimum, "arith.maxui": np.maximum, "arith.maxsi": np.maximum,
    "arith.andi": operator.and_, "arith.index_cast": lambda a: a,
}


def is_integer_op(name: str) -> bool:
    return name == "arith.cmpi" or name in INTEGER_OPS


def eval_integer_op(name: str, args, attrs):
    """The result of integer op `name` on `args` (NumPy arrays or Python numbers)."""
    if name == "arith.cmpi":
        p = attrs["predicate"]
        return CMPI[p if isinstance(p, int) else CMPI_NAMES.index(p)](args[0], args[1])
    return INTEGER_OPS[name](*args)
