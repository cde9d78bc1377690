"""JIT harness and ULP measurement for :mod:`codegen.fastmath` (tests and benchmarks share it).

:func:`compile_map` builds ``for i in 0..n: out[i] = f(in[i])`` (two inputs for ``pow``)
around :func:`codegen.fastmath.declare`, optimises it with the new pass builder at speed
level 3 for the host CPU, JITs it (MCJIT) and returns a NumPy-callable :class:`MapKernel`
that also keeps the optimised IR (to check that the loop vectorised).

:func:`reference` gives a high-precision reference: float64 NumPy for float32
targets, x87 ``long double`` (64-bit significand) NumPy for float64 targets. :func:`ulp_error` measures in ULPs of the target precision at the
correctly rounded value (``np.spacing``).
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass, field

import mpmath as mp
import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir

from codegen import fastmath
from codegen.bits import INLINE_AFTER_VECTORISING
from codegen.jit import inline_vector_variants

_INITIALISED = False
ARITY = {name: 2 for name in fastmath.BINARY}


def target_machine() -> llvm.TargetMachine:
    """A fresh target machine for the host CPU (512-bit vectors allowed where available)."""
    global _INITIALISED
    if not _INITIALISED:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _INITIALISED = True
    features = llvm.get_host_cpu_features().flatten()
    features = ",".join(filter(None, [features, "-prefer-256-bit"]))
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=features, opt=3, jit=True)


def _ir_type(dtype) -> ir.Type:
    return {np.dtype(np.float64): ir.DoubleType(), np.dtype(np.float32): ir.FloatType()}[np.dtype(dtype)]


def map_module(name: str, dtype) -> ir.Module:
    """IR module with ``void kernel(T* in0, [T* in1,] T* out, i64 n)`` applying ``name``."""
    ty = _ir_type(dtype)
    arity = ARITY.get(name, 1)
    module = ir.Module(name=f"fastmath_{name}")
    f = fastmath.declare(module, name, ty)
    ptr = ty.as_pointer()
    i64 = ir.IntType(64)
    kernel = ir.Function(module, ir.FunctionType(ir.VoidType(), [ptr] * (arity + 1) + [i64]), "kernel")
    for arg in kernel.args[:-1]:
        arg.add_attribute("noalias")
    *ins, out, n = kernel.args
    entry, loop, done = (kernel.append_basic_block(s) for s in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    b.cbranch(b.icmp_signed(">", n, ir.Constant(i64, 0)), loop, done)
    b.position_at_end(loop)
    i = b.phi(i64)
    i.add_incoming(ir.Constant(i64, 0), entry)
    vals = [b.load(b.gep(p, [i], inbounds=True)) for p in ins]
    b.store(b.call(f, vals), b.gep(out, [i], inbounds=True))
    nxt = b.add(i, ir.Constant(i64, 1))
    i.add_incoming(nxt, loop)
    b.cbranch(b.icmp_signed("<", nxt, n), loop, done)
    b.position_at_end(done)
    b.ret_void()
    return module


@dataclass
class MapKernel:
    """A JIT-compiled element-wise loop; call it with NumPy arrays of its dtype."""

    name: str
    dtype: np.dtype
    arity: int
    ir: str
    _cfunc: object = field(repr=False)
    _engine: object = field(repr=False)

    def __call__(self, *xs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if len(xs) != self.arity:
            raise TypeError(f"{self.name} takes {self.arity} arrays")
        xs = np.broadcast_arrays(*(np.ascontiguousarray(x, dtype=self.dtype) for x in xs))
        xs = [np.ascontiguousarray(x) for x in xs]
        if out is None:
            out = np.empty_like(xs[0])
        elif out.shape != xs[0].shape or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ValueError("out must be a C-contiguous array of the inputs' shape and dtype")
        self._cfunc(*(x.ctypes.data for x in xs), out.ctypes.data, out.size)
        return out

    def vector_width(self) -> int:
        """Widest ``<N x T>`` of the element type in the optimised IR (1: not vectorised)."""
        t = "double" if self.dtype == np.float64 else "float"
        return max([1] + [int(w) for w in re.findall(rf"<(\d+) x {t}>", self.ir)])

    def vector_bits(self) -> int:
        """Widest float vector (float or double lanes) in the optimised IR, in bits."""
        found = re.findall(r"<(\d+) x (float|double)>", self.ir)
        return max([0] + [int(n) * (32 if t == "float" else 64) for n, t in found])

    def calls(self) -> list[str]:
        """Functions still called in the optimised IR (intrinsics and the scalar lanes of
        :mod:`codegen.bits`' vector variants excluded)."""
        return sorted({c for c in re.findall(r"call [^@]*@\"?([\w.]+)", self.ir)
                       if not c.startswith(("llvm.", INLINE_AFTER_VECTORISING))})


def compile_map(name: str, dtype) -> MapKernel:
    dtype = np.dtype(dtype)
    tm = target_machine()
    mod = llvm.parse_assembly(str(map_module(name, dtype)))
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    mod.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    inline_vector_variants(mod, tm)
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    arity = ARITY.get(name, 1)
    proto = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * (arity + 1)), ctypes.c_int64)
    cfunc = proto(engine.get_function_address("kernel"))
    return MapKernel(name, dtype, arity, str(mod), cfunc, engine)


# --------------------------------------------------------------------------- reference, ULPs

NUMPY = {"exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "pow": np.power,
         "exp2": np.exp2, "log2": np.log2, "tan": np.tan, "sinh": np.sinh, "cosh": np.cosh,
         "tanh": np.tanh, "atan": np.arctan, "expm1": np.expm1, "log1p": np.log1p,
         "log10": np.log10, "cbrt": np.cbrt, "asin": np.arcsin, "acos": np.arccos,
         "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh, "atan2": np.arctan2,
         "hypot": np.hypot}
#: The same functions in mpmath (for spot checks at 40 digits).
MPMATH = {"exp": mp.exp, "log": mp.log, "sin": mp.sin, "cos": mp.cos, "pow": mp.power,
          "exp2": lambda x: mp.power(2, x), "log2": lambda x: mp.log(x, 2), "tan": mp.tan,
          "sinh": mp.sinh, "cosh": mp.cosh, "tanh": mp.tanh, "atan": mp.atan, "expm1": mp.expm1,
          "log1p": mp.log1p, "log10": lambda x: mp.log(x, 10), "cbrt": lambda x: mp.sign(x) * mp.cbrt(abs(x)), "asin": mp.asin,
          "acos": mp.acos, "asinh": mp.asinh, "acosh": mp.acosh, "atanh": mp.atanh,
          "atan2": mp.atan2, "hypot": mp.hypot}


def reference(name: str, dtype, *xs: np.ndarray) -> np.ndarray:
    """``f(*xs)`` well beyond the target precision: float64 for float32 targets, x87
    long double (64-bit significand, exponent range to 2**-16445) for float64 targets."""
    wide = np.float64 if np.dtype(dtype) == np.float32 else np.longdouble
    with np.errstate(all="ignore"):
        return NUMPY[name](*(np.asarray(x, wide) for x in xs))


def ulp_error(got: np.ndarray, ref: np.ndarray, dtype) -> np.ndarray:
    """``|got - ref|`` in ULPs of ``dtype`` at the correctly rounded reference.

    Computed in the reference's (wider) type, so subnormal results are measured exactly.
    0 where both are the same infinity or both NaN; inf where exactly one is not finite.
    """
    dtype = np.dtype(dtype)
    with np.errstate(all="ignore"):
        cr = ref.astype(dtype)
        err = got.astype(ref.dtype)
        err -= ref
        np.abs(err, out=err)
        err /= np.spacing(np.abs(cr)).astype(ref.dtype)
        err = err.astype(np.float64, copy=False)
        odd = np.flatnonzero(~(np.isfinite(got) & np.isfinite(cr)))
        if odd.size:  # same infinity or both NaN: 0; otherwise inf
            g, c = got[odd], cr[odd]
            err[odd] = np.where((np.isnan(g) & np.isnan(c)) | (g == c), 0.0, np.inf)
    return err


def measure(kernel: MapKernel, *xs: np.ndarray) -> np.ndarray:
    """ULP errors of ``kernel`` on ``xs`` against :func:`reference`."""
    xs = [np.asarray(x, kernel.dtype) for x in xs]
    return ulp_error(kernel(*xs), reference(kernel.name, kernel.dtype, *xs), kernel.dtype)


# --------------------------------------------------------------------------- inputs


def _uniform_bits(rng: np.random.Generator, lo: float, hi: float, n: int, dtype) -> np.ndarray:
    """``n`` values of ``dtype`` in ``[lo, hi]`` (both >= 0), uniform in the bit pattern.

    Uniform over the representable numbers, so every binade gets its share.
    """
    dtype = np.dtype(dtype)
    it = np.int64 if dtype == np.float64 else np.int32
    a, b = (np.array([v], dtype).view(it)[0] for v in (lo, hi))
    return rng.integers(int(a), int(b), n, endpoint=True).astype(it).view(dtype)


#: Sampled domains (low, high) of the exp-like functions, by precision.
RANGES = {
    "exp": {"float64": (-745.13, 709.78), "float32": (-103.97, 88.72)},
    "exp2": {"float64": (-1074.0, 1023.99), "float32": (-149.0, 127.99)},
    "sinh": {"float64": (-710.47, 710.47), "float32": (-89.41, 89.41)},
    "cosh": {"float64": (-710.47, 710.47), "float32": (-89.41, 89.41)},
    "tanh": {"float64": (-30.0, 30.0), "float32": (-12.0, 12.0)},
    "expm1": {"float64": (-60.0, 709.78), "float32": (-20.0, 88.72)},
}


def sample(name: str, dtype, n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Inputs spread over the documented domain of ``name``: half uniform, half uniform
    in the bit pattern (every binade down to the subnormals gets its share)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    fin = np.finfo(dtype)
    half = n // 2
    sign = rng.choice([-1.0, 1.0], n - half)
    if name in RANGES:
        bot, top = RANGES[name][str(dtype)]
        mag = _uniform_bits(rng, 0, max(-bot, top), n - half, dtype) * sign
        return (np.clip(np.concatenate([rng.uniform(bot, top, half), mag]), bot, top).astype(dtype),)
    if name in ("atan", "cbrt", "asinh"):
        mag = _uniform_bits(rng, 0, fin.max, n - half, dtype) * sign
        return (np.concatenate([rng.uniform(-4, 4, half), mag]).astype(dtype),)
    if name in ("asin", "acos", "atanh"):
        mag = _uniform_bits(rng, 0, 1, n - half, dtype) * sign
        return (np.concatenate([rng.uniform(-1, 1, half), mag]).astype(dtype),)
    if name == "acosh":
        return (np.concatenate([rng.uniform(1, 3, half), _uniform_bits(rng, 1, fin.max, n - half, dtype)]).astype(dtype),)
    if name == "log1p":
        quarter = (n - half) // 2
        parts = [rng.uniform(-1, 2, half), _uniform_bits(rng, 0, fin.max, quarter, dtype),
                 -_uniform_bits(rng, 0, 1, n - half - quarter, dtype)]
        return (np.concatenate(parts).astype(dtype),)
    if name in ("atan2", "hypot"):
        def one(k):
            s = rng.choice([-1.0, 1.0], k)
            near = rng.uniform(-4, 4, k)
            far = _uniform_bits(rng, 0, fin.max, k, dtype) * s
            # the other argument within a few binades, so that both matter
            return near, far
        xa, xb = one(half)[0], one(n - half)[1]
        ya = rng.uniform(-4, 4, half)
        with np.errstate(all="ignore"):
            yb = xb.astype(np.float64) * np.exp2(rng.uniform(-30, 30, n - half)) * rng.choice([-1.0, 1.0], n - half)
        wide = rng.random(n - half) < 0.3
        yb[wide] = (_uniform_bits(rng, 0, fin.max, n - half, dtype) * rng.choice([-1.0, 1.0], n - half))[wide]
        with np.errstate(all="ignore"):
            x = np.concatenate([xa, xb]).astype(dtype)
            y = np.concatenate([ya, yb]).astype(dtype)
        return (y, x) if name == "atan2" else (x, y)
    if name in ("log", "log2", "log10"):
        x = np.concatenate([_uniform_bits(rng, fin.smallest_subnormal, fin.max, half, dtype),
                            rng.uniform(0.5, 2.0, n - half).astype(dtype)])
        return (x,)
    if name in ("sin", "cos", "tan"):
        bound = fastmath.SINCOS_BOUND[str(dtype)]
        parts = [rng.uniform(-np.pi, np.pi, half), _uniform_bits(rng, 0, bound, n - half, dtype) * sign]
        return (np.concatenate(parts).astype(dtype),)
    if name == "pow":
        x = _uniform_bits(rng, fin.tiny, fin.max, n, dtype).astype(np.float64)
        lx = np.log(x)
        # y so that |y*log(x)| stays inside the finite range (and sometimes near its edge)
        zmax = np.log(fin.max) * rng.choice([1.0, 0.1, 0.001], n)
        y = rng.uniform(-1, 1, n) * zmax / np.maximum(np.abs(lx), 1e-300)
        near_one = rng.random(n) < 0.2
        x[near_one] = rng.uniform(0.5, 2.0, near_one.sum())
        y[near_one] = rng.uniform(-50, 50, near_one.sum())
        neg = rng.random(n) < 0.15
        x[neg] = -rng.uniform(0.1, 10.0, neg.sum())
        y[neg] = rng.integers(-30, 30, neg.sum())
        return x.astype(dtype), y.astype(dtype)
    raise ValueError(name)
