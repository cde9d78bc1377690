"""LLVM for the host CPU: target machine, optimisation pipeline, MCJIT.

* one cached target machine per (relocation model, code model) for optimisation and
  object emission (:func:`target_machine`),
* :func:`optimize` parses IR text, verifies it, runs the new pass builder's ``-O3``
  pipeline (loop and SLP vectorisation on) for the host CPU and verifies the result
  (so that an invalid module is a Python ``RuntimeError``, never LLVM's ``abort()``),
* :func:`jit` gives the optimised module to a fresh MCJIT engine and returns the
  engine (keep it alive as long as the function is used) and the function's address.

Host CPU = ``llvm.get_host_cpu_name()`` plus ``get_host_cpu_features()``, with
``-prefer-256-bit`` appended so that AVX-512 hosts use 512-bit vectors.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from pathlib import Path

import llvmlite.binding as llvm

_lock = threading.Lock()


def address(array) -> int:
    """The data address of a C-contiguous NumPy ``array``, for a call into compiled code:
    ``array.ctypes.data`` at a third of its cost (2 us a call, paid by every argument
    of the search's many small native calls); read-only or empty arrays take the slow way."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(array))
    except (TypeError, ValueError, BufferError):
        return array.ctypes.data


@functools.cache
def _initialise() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    # libm functions (exp, sinf...) called by kernels are resolved in the process
    libm = ctypes.util.find_library("m")
    if libm:
        llvm.load_library_permanently(libm)
    if _libmvec_handle() is not None:
        llvm.load_library_permanently(_LIBMVEC)


_LIBMVEC = "libmvec.so.1"
LIBMVEC_LANES = {"float64": 4, "float32": 8}  # AVX2 ("d" ISA) vector lengths


@functools.cache
def _libmvec_handle():
    """glibc's vector math library (libmvec, glibc >= 2.22), or None."""
    try:
        return ctypes.CDLL(_LIBMVEC)
    except OSError:
        return None


@functools.cache
def libmvec_name(c_name: str, arity: int, dtype: str) -> str | None:
    """glibc's AVX2 vector variant of the C function ``c_name`` (``expf``...), or None.

    ``_ZGVdN4v_exp`` (4 doubles), ``_ZGVdN8v_expf`` (8 floats), ``_ZGVdN4vv_pow``: the
    x86-64 vector function ABI names.  None unless the host has AVX2 and this process's
    libmvec exports the symbol (exp, log, sin, cos, pow since glibc 2.22; most others
    since 2.35).
    """
    handle = _libmvec_handle()
    if handle is None or not has_feature("avx2"):
        return None
    name = f"_ZGVdN{LIBMVEC_LANES[dtype]}{'v' * arity}_{c_name}"
    return name if hasattr(handle, name) else None


@functools.cache
def host_cpu() -> tuple[str, str]:
    """(cpu name, feature string) used for every kernel built in this process."""
    _initialise()
    features = llvm.get_host_cpu_features().flatten()
    return llvm.get_host_cpu_name(), ",".join(filter(None, [features, "-prefer-256-bit"]))


def has_feature(name: str) -> bool:
    """Whether the host CPU has the LLVM feature ``name`` (``"avx512f"``, ``"avx2"``...)."""
    return f"+{name}" in host_cpu()[1].split(",")


@functools.cache
def last_level_cache_bytes() -> int:
    """Size of the host's largest CPU cache (Linux sysfs), 32 MiB where unknown."""
    sizes = {}
    try:
        for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
            text = (index / "size").read_text().strip().upper()
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            sizes[int((index / "level").read_text())] = int(text.rstrip("KMG")) * scale
    except (OSError, ValueError):
        pass
    return sizes[max(sizes)] if sizes else 32 << 20


def _create_target_machine(reloc: str = "default", codemodel: str = "jitdefault", jit: bool = False):
    cpu, features = host_cpu()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc=reloc,
                                        codemodel=codemodel, jit=jit)


@functools.cache
def target_machine(reloc: str = "default", codemodel: str = "jitdefault"):
    """The cached host target machine (``reloc="pic", codemodel="default"`` for objects)."""
    return _create_target_machine(reloc, codemodel)


def triple() -> str:
    _initialise()
    return llvm.get_process_triple()


def optimize(ir_text: str, tm=None) -> llvm.ModuleRef:
    """Parse, verify, optimise (``O3``: loop + SLP vectorisation) and verify again a module."""
    _initialise()
    tm = tm or target_machine()
    with _lock:
        module = llvm.parse_assembly(ir_text)
        module.verify()
        module.triple = triple()
        module.data_layout = str(tm.target_data)
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        builder = llvm.create_pass_builder(tm, pto)
        builder.getModulePassManager().run(module, builder)
        inline_vector_variants(module, tm)
        # code generation (MCJIT, object files) verifies the module again and calls
        # abort() on an invalid one; verifying here makes that a Python exception
        try:
            module.verify()
        except RuntimeError as exc:
            raise RuntimeError(f"codegen bug: LLVM's optimiser produced an invalid module "
                               f"({str(exc).strip().splitlines()[0]})") from None
    return module


def inline_vector_variants(module: llvm.ModuleRef, tm) -> None:
    """Inline the ``alwaysinline`` vector variants of :mod:`codegen.bits` that the loop
    vectoriser called (it runs after the O3 pipeline's inliner)."""
    from .bits import INLINE_AFTER_VECTORISING   # bits imports this module

    if any(fn.name.startswith(INLINE_AFTER_VECTORISING) for fn in module.functions):
        inline = llvm.ModulePassManager()
        inline.add_always_inliner_pass()
        inline.run(module, llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=0)))


def jit(module: llvm.ModuleRef, symbol: str):
    """Compile an optimised module to machine code; returns ``(engine, address)``."""
    with _lock:
        engine = llvm.create_mcjit_compiler(module, _create_target_machine(jit=True))
        engine.finalize_object()
        engine.run_static_constructors()
        address = engine.get_function_address(symbol)
    if not address:
        raise RuntimeError(f"JIT compilation did not produce a function {symbol!r}")
    return engine, address
