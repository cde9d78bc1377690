"""Program -> native object file and shared library for the host CPU.

The object comes from LLVM's target machine (position-independent code, small code
model) after the same optimisation as the JIT kernel; the shared library is that object
linked with ``cc -shared ... -lm``.  Both export exactly the function declared by
:func:`codegen.c_source.header` and call the C math library for the functions the JIT
kernel calls it for (with ``math="fast"``, the default, only those without an inline
:mod:`codegen.fastmath` version; with ``math="libmvec"``, glibc's vector variants
``_ZGVdN4v_exp``... where the JIT kernel does: glibc's ``-lm`` linker script pulls in
``libmvec``).  They are built for the host CPU's features (the target-cpu of the machine
that generated them) and may not run on an older CPU.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from . import jit
from .lower import DEFAULT_MATH, build_module
from .program import Program


def object_code(program: Program, math: str = DEFAULT_MATH, fastmath=False,
                interleave: int | None = None) -> bytes:
    """ELF (or the platform's) object file bytes defining the kernel (``interleave``:
    :func:`codegen.lower.build_module`)."""
    tm = jit.target_machine(reloc="pic", codemodel="default")
    module = jit.optimize(str(build_module(program, math, fastmath, interleave)), tm)
    return tm.emit_object(module)


def shared_library(program: Program, math: str = DEFAULT_MATH, fastmath=False,
                   compiler: str | None = None) -> bytes:
    """Shared library bytes: :func:`object_code` linked by the C compiler (``$CC`` or ``cc``)."""
    compiler = compiler or os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        raise RuntimeError(f"cannot build a shared library: C compiler {compiler!r} not found")
    with tempfile.TemporaryDirectory(prefix="codegen-") as tmp:
        obj = os.path.join(tmp, "kernel.o")
        lib = os.path.join(tmp, "kernel.so")
        with open(obj, "wb") as handle:
            handle.write(object_code(program, math, fastmath))
        done = subprocess.run([compiler, "-shared", "-o", lib, obj, "-lm"], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"linking the shared library failed: {done.stderr.strip()}")
        with open(lib, "rb") as handle:
            return handle.read()
