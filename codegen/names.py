"""Turn arbitrary names (SymPy symbol names, user kernel names) into C/LLVM identifiers.

A sanitized name matches ``[A-Za-z][A-Za-z0-9_]*``, is not a C keyword or a name the
generated code uses itself, and is unique within one kernel.  ASCII letters, digits
and ``_`` are kept; any other character ``c`` becomes ``_`` (ASCII) or ``u<hex>``
(non-ASCII, so ``λ`` -> ``u3bb``).
"""

from __future__ import annotations

import functools
import re

C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if
inline int long register restrict return short signed sizeof static struct switch typedef
union unsigned void volatile while _Bool _Complex _Imaginary bool true false alignas alignof
asm typeof nullptr static_assert thread_local
""".split())

#: names the generated C code defines or includes; never used for arguments (besides
#: every function and type the operations' C spellings name: :func:`library_names`)
RESERVED = frozenset({"n", "i", "NAN", "INFINITY", "int64_t", "uint32_t", "uint64_t", "main"})


@functools.cache
def library_names() -> frozenset[str]:
    """The C functions and macros the operations' spellings call (``sin``, ``fmaf``,
    ``isnan``, ...): an argument named ``sin`` would hide the function in the C source."""
    from .ops import OPS

    return frozenset(re.findall(r"\b([A-Za-z_]\w*)\s*\(", " ".join(c for op in OPS.values() for c in op.c)))


def identifier(name: str) -> str:
    """A valid C identifier for ``name`` (not yet made unique)."""
    chars = []
    for ch in name:
        if ch.isascii() and (ch.isalnum() or ch == "_"):
            chars.append(ch)
        elif ch.isascii():
            chars.append("_")
        else:
            chars.append(f"u{ord(ch):x}")
    text = "".join(chars).strip("_") or "v"
    if not text[0].isalpha():
        text = "v" + text
    if text in C_KEYWORDS or text in RESERVED or text in library_names():
        text += "_"
    return text


def unique_identifiers(names: list[str], taken: set[str] | None = None) -> list[str]:
    """Sanitize each name and add ``_2``, ``_3``... suffixes so that all are distinct."""
    used = set(taken or ())
    result = []
    for name in names:
        base = identifier(name)
        candidate, k = base, 2
        while candidate in used:
            candidate, k = f"{base}_{k}", k + 1
        used.add(candidate)
        result.append(candidate)
    return result
