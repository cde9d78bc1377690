"""Program -> a JAX function (the same operation order as every other form).

``function(program, single)`` returns ``f(*args)``: each argument an array or scalar
(broadcast by JAX rules), the result one array (``single``) or a tuple, computed by
walking the program with the ``jax`` functions of :data:`codegen.ops.OPS`.  It traces
under ``jax.jit`` and differentiates like any JAX code.  For ``float64`` programs the
computation runs with 64-bit types enabled (``jax.enable_x64``) so it is not silently
rounded to float32; when you wrap it in your own ``jax.jit``, enable x64 around that call
too (``with jax.enable_x64(True):``), or JAX rounds the float64 inputs to float32 at the
jit boundary.
"""

from __future__ import annotations

import functools

from .ops import OPS, resolve
from .program import Program


def function(program: Program, single: bool):
    import jax
    import jax.numpy as jnp

    dtype = program.dtype
    table = {ins.op: resolve(OPS[ins.op].jax) for ins in program.instrs if ins.op in OPS}

    def lookup(op: str):
        if op == "const":
            return lambda value: jnp.asarray(value, dtype=dtype)
        return table[op]

    def f(*args):
        if len(args) != len(program.args):
            raise TypeError(f"{program.name}() takes {len(program.args)} arguments "
                            f"({', '.join(program.args)}), got {len(args)}")
        with jax.enable_x64(dtype == "float64"):
            inputs = [jnp.asarray(a, dtype=dtype) for a in args]
            outputs = program.evaluate(inputs, lookup)
        return outputs[0] if single else tuple(outputs)

    functools.update_wrapper(f, lambda: None)
    f.__name__ = program.name
    f.__doc__ = "JAX version of: " + "; ".join(str(e) for e in program.exprs)
    return f
