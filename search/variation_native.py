"""The variation kernel of :mod:`search.variation` compiled natively, bit for bit.

:func:`search.variation._children` is a jitted JAX function of small integer arrays:
on a CPU, XLA runs it as about 60 fusions, 0.2-0.3 ms per generation whatever the
population's size (a third of a 4-island generation of the formula search).  This module
emits the same computation as one LLVM function, a loop over the edits, through the
host's LLVM (:mod:`codegen.jit`), and :class:`NativeChildren` calls it on NumPy arrays:
same inputs (the host's draws), same outputs, equal element for element (checked against
the JAX kernel by the tests).  The JAX kernel stays the reference and runs where the
search's arrays live on an accelerator.

Per edit ``e`` (acting on parent ``p = e % n``) the function follows ``_children``:

1. the edit's kind (the draw ``u[0]`` against the cumulative weights, crossover where
   ``cross``; or the given ``kind``), with the fallbacks where nothing fits it;
2. the node it acts on (``u[1]`` among the nodes of the right class), the subtree spans
   from the stack depths (the last ``s <= end`` whose depth before it is the depth after
   ``end`` minus one), the operator, leaf and argument choices (``u[2..7]``);
3. its six segments ``(source, start, length)`` and, for each output position, the index
   of its value in the flat buffer of the sources ``[a, S, L, G, b, OP, pad]`` and its
   code (from a code buffer of the same layout, which the host fills but for the OP part);
4. with ``cross``: per parent, the first try whose cost and length fit, else the parent.

Float draws are compared and scaled in float32, as in the JAX kernel.
"""

from __future__ import annotations

import ctypes
import functools

import llvmlite.ir as ir
import numpy as np

from codegen import jit
from codegen.lower import emit_loop, host_function

_I1, _I32, _I64, _F32 = ir.IntType(1), ir.IntType(32), ir.IntType(64), ir.FloatType()

#: The integer settings of a call, in the order of the ``dims`` array.
DIMS = ("n", "w", "tries", "wg", "maxsize", "width", "has_unary", "has_binary", "kind_mode", "choice_cols",
        "table_size", "pad_code", "n_weights")
#: The array arguments after ``dims``: name, element type (``f`` float32, ``i`` int32).
ARRAYS = (("u", "f"), ("a_codes", "i"), ("a_len", "i"), ("b_codes", "i"), ("b_len", "i"), ("graft_len", "i"),
          ("kind_or_cross", "i"), ("node_class", "i"), ("arity", "i"), ("effect", "i"), ("cost", "i"),
          ("choices", "i"), ("n_choices", "i"), ("cumulative", "f"), ("cumulative_again", "f"), ("acts_on", "i"),
          ("code_buffer", "i"), ("segments", "i"), ("edit_codes", "i"), ("edit_index", "i"), ("total", "i"),
          ("out_codes", "i"), ("out_index", "i"), ("out_len", "i"))
_N_SEGMENTS = 6


def _c(value: int) -> ir.Constant:
    return ir.Constant(_I64, value)


class _Emitter:
    """Integer IR helpers on one builder: loads widen int32 to int64, stores narrow."""

    def __init__(self, b: ir.IRBuilder, table_size):
        self.b = b
        self.table_size = table_size

    def ld(self, ptr, index):
        return self.b.sext(self.b.load(self.b.gep(ptr, [index])), _I64)

    def ldf(self, ptr, index):
        return self.b.load(self.b.gep(ptr, [index]))

    def st(self, ptr, index, value):
        self.b.store(self.b.trunc(value, _I32), self.b.gep(ptr, [index]))

    def sel(self, cond, x, y):
        return self.b.select(cond, x, y)

    def lt(self, x, y):
        return self.b.icmp_signed("<", x, y)

    def eq(self, x, y):
        return self.b.icmp_signed("==", x, y)

    def min(self, x, y):
        return self.sel(self.lt(x, y), x, y)

    def max(self, x, y):
        return self.sel(self.lt(y, x), x, y)

    def table(self, table, code):
        """``table[code]`` with NumPy's negative indexing (PAD, -1, is the last entry)."""
        return self.ld(table, self.sel(self.lt(code, _c(0)), self.b.add(code, self.table_size), code))

    def index(self, u, high):
        """``min(int32(u * float32(high)), high - 1)``: a uniform integer below ``high``."""
        product = self.b.fmul(u, self.b.sitofp(high, _F32))
        return self.min(self.b.sext(self.b.fptosi(product, _I32), _I64), self.b.sub(high, _c(1)))

    def flag(self, cond):
        return self.b.zext(cond, _I64)


def _start_function(module: ir.Module) -> ir.Function:
    """``i64 start(i64* before, i64* after, i64 end)``: the last ``j <= end`` with
    ``before[j] == after[end] - 1``, or -1."""
    fn = ir.Function(module, ir.FunctionType(_I64, [_I64.as_pointer(), _I64.as_pointer(), _I64]), "subtree_start")
    fn.linkage = "internal"
    fn.attributes.add("alwaysinline")
    before, after, end = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    best = b.alloca(_I64)
    b.store(_c(-1), best)
    target = b.sub(b.load(b.gep(after, [end])), _c(1))

    def body(b, j):
        hit = b.icmp_signed("==", b.load(b.gep(before, [j])), target)
        b.store(b.select(hit, j, b.load(best)), best)
    emit_loop(b, _c(0), b.add(end, _c(1)), body, "scan")
    b.ret(b.load(best))
    return fn


def build_module() -> ir.Module:
    """``void variation(i64 *dims, i64 *arrays)``: the settings (:data:`DIMS`) and the
    addresses of the arrays (:data:`ARRAYS`, in that order)."""
    module, fn = host_function("variation", [("dims", _I64.as_pointer()), ("arrays", _I64.as_pointer())])
    start_fn = _start_function(module)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    addresses = fn.args[1]
    args = {name: b.inttoptr(b.load(b.gep(addresses, [_c(k)])), (_F32 if kind == "f" else _I32).as_pointer(), name=name)
            for k, (name, kind) in enumerate(ARRAYS)}
    args["dims"] = fn.args[0]
    dims = {name: b.load(b.gep(args["dims"], [_c(k)]), name=name) for k, name in enumerate(DIMS)}
    x = _Emitter(b, dims["table_size"])
    n, w, tries, wg = dims["n"], dims["w"], dims["tries"], dims["wg"]
    E = b.mul(n, tries, name="E")
    wide = b.add(b.add(b.mul(w, _c(2)), wg), _c(2), name="wide")
    # the flat buffer's parts: a, S, L, G, b, OP, pad
    base_s = b.mul(n, w)
    base_l = b.add(base_s, b.mul(E, w))
    base_g = b.add(base_l, E)
    base_b = b.add(base_g, b.mul(E, wg))
    base_op = b.add(base_b, b.mul(n, w))
    base_pad = b.add(base_op, E)
    buffer_size = b.add(base_pad, _c(1))
    # per-edit scratch: the node classes and depths of a's and b's rows; the segments' arrays
    cls = b.alloca(_I64, w, name="cls")
    after_a, before_a = b.alloca(_I64, w, name="after_a"), b.alloca(_I64, w, name="before_a")
    after_b, before_b = b.alloca(_I64, w, name="after_b"), b.alloca(_I64, w, name="before_b")
    ends, begins, firsts = (b.alloca(_I64, _N_SEGMENTS, name=k) for k in ("ends", "begins", "firsts"))
    slot = {k: b.alloca(_I64, name=k) for k in ("count", "cumsum", "pick", "has", "kind", "depth", "cost", "chosen")}
    u = args["u"]

    def draw(row, e):
        return x.ldf(u, b.add(b.mul(_c(row), E), e))

    def depths(row_codes, row, after, before):
        acc = slot["depth"]
        b.store(_c(0), acc)

        def body(b, j):
            effect = x.table(args["effect"], x.ld(row_codes, b.add(row, j)))
            total = b.add(b.load(acc), effect)
            b.store(total, acc)
            b.store(total, b.gep(after, [j]))
            b.store(b.sub(total, effect), b.gep(before, [j]))
        emit_loop(b, _c(0), w, body, "depth")

    def start(before, after, end):
        return b.call(start_fn, [before, after, end])

    def searchsorted(cumulative, value):
        """The number of the weights' cumulative sums at most ``value`` (side='right')."""
        count = _c(0)
        for j in range(7):
            count = b.add(count, x.flag(b.fcmp_ordered("<=", x.ldf(cumulative, _c(j)), value)))
        return count

    def edit(b, e):
        p = b.srem(e, n)
        row = b.mul(p, w)
        length = x.ld(args["a_len"], p)
        # 1. the kind
        if_kind = x.eq(dims["kind_mode"], _c(1))
        with b.if_else(if_kind) as (given, drawn):
            with given:
                b.store(x.ld(args["kind_or_cross"], e), slot["kind"])
            with drawn:
                first_try = x.lt(e, n)
                k = x.sel(first_try, searchsorted(args["cumulative"], draw(0, e)),
                          searchsorted(args["cumulative_again"], draw(0, e)))
                k = x.min(k, b.sub(dims["n_weights"], _c(1)))
                crossed = b.and_(first_try, b.icmp_signed("!=", x.ld(args["kind_or_cross"], x.min(e, b.sub(n, _c(1)))), _c(0)))
                b.store(x.sel(crossed, dims["n_weights"], k), slot["kind"])
        k = b.load(slot["kind"])
        b.store(_c(0), slot["has"])

        def classes(b, j):
            c = x.table(args["node_class"], x.ld(args["a_codes"], b.add(row, j)))
            b.store(c, b.gep(cls, [j]))
            b.store(b.or_(b.load(slot["has"]), b.shl(_c(1), c)), slot["has"])
        emit_loop(b, _c(0), w, classes, "classes")
        has_mask = b.load(slot["has"])

        def has(c):
            return b.icmp_signed("!=", b.and_(has_mask, _c(1 << c)), _c(0))
        has_op = b.or_(b.or_(has(2), has(3)), has(4))
        k = x.sel(b.and_(x.eq(k, _c(0)), b.not_(has(0))), _c(1), k)            # constant -> operator
        k = x.sel(b.and_(x.eq(k, _c(1)), b.not_(has_op)), _c(2), k)            # operator -> leaf
        k = x.sel(b.or_(b.and_(x.eq(k, _c(3)), b.not_(has(3))), b.and_(x.eq(k, _c(5)), b.not_(has_op))), _c(2), k)
        no_operators = b.and_(x.eq(dims["has_unary"], _c(0)), x.eq(dims["has_binary"], _c(0)))
        k = x.sel(b.and_(no_operators, x.eq(k, _c(4))), _c(2), k)              # insert -> leaf
        # 2. the node: uniform among those of a class the kind acts on
        acts = b.mul(k, _c(6))
        b.store(_c(0), slot["count"])

        def count_body(b, j):
            b.store(b.add(b.load(slot["count"]), x.ld(args["acts_on"], b.add(acts, b.load(b.gep(cls, [j]))))),
                    slot["count"])
        emit_loop(b, _c(0), w, count_body, "count")
        count = b.load(slot["count"])
        chosen = x.min(b.sext(b.fptosi(b.fmul(draw(1, e), b.sitofp(count, _F32)), _I32), _I64),
                       x.max(b.sub(count, _c(1)), _c(0)))
        b.store(_c(0), slot["cumsum"])
        b.store(_c(-1), slot["pick"])

        def pick_body(b, j):
            cumsum = b.add(b.load(slot["cumsum"]), x.ld(args["acts_on"], b.add(acts, b.load(b.gep(cls, [j])))))
            b.store(cumsum, slot["cumsum"])
            first = b.and_(x.lt(b.load(slot["pick"]), _c(0)), x.lt(chosen, cumsum))
            b.store(x.sel(first, j, b.load(slot["pick"])), slot["pick"])
        emit_loop(b, _c(0), w, pick_body, "pick")
        i = x.max(b.load(slot["pick"]), _c(0))
        depths(args["a_codes"], row, after_a, before_a)
        root = start(before_a, after_a, i)
        last = start(before_a, after_a, x.max(b.sub(i, _c(1)), _c(0)))
        middle = start(before_a, after_a, x.max(b.sub(last, _c(1)), _c(0)))
        first = start(before_a, after_a, x.max(b.sub(middle, _c(1)), _c(0)))
        rest = b.sub(b.sub(length, i), _c(1))
        node = x.ld(args["a_codes"], b.add(row, i))
        node_arity = x.table(args["arity"], node)
        cols = dims["choice_cols"]
        n_choices = args["n_choices"]
        choice_count = x.ld(n_choices, node_arity)
        same_arity = x.sel(x.lt(_c(0), choice_count),
                           x.ld(args["choices"], b.add(b.mul(node_arity, cols), x.index(draw(2, e), x.max(choice_count, _c(1))))),
                           node)
        has_unary, has_binary = b.icmp_signed("!=", dims["has_unary"], _c(0)), b.icmp_signed("!=", dims["has_binary"], _c(0))
        unary = b.and_(has_unary, b.or_(b.not_(has_binary),
                                        b.fcmp_ordered("<", draw(3, e), ir.Constant(_F32, float(np.float32(0.4))))))
        wrap_unary = x.ld(args["choices"], b.add(cols, x.index(draw(4, e), x.max(x.ld(n_choices, _c(1)), _c(1)))))
        wrap_binary = x.ld(args["choices"], b.add(b.mul(cols, _c(2)), x.index(draw(4, e), x.max(x.ld(n_choices, _c(2)), _c(1)))))
        op_code = x.sel(x.eq(k, _c(1)), same_arity, x.sel(unary, wrap_unary, wrap_binary))
        x.st(args["code_buffer"], b.add(base_op, e), op_code)
        not_unary = x.flag(b.not_(unary))
        leaf_first = b.and_(not_unary, x.flag(b.fcmp_ordered("<", draw(5, e), ir.Constant(_F32, 0.5))))
        leaf_after = b.sub(not_unary, leaf_first)
        argument = x.index(draw(6, e), x.max(node_arity, _c(1)))
        arg0, arg1 = x.eq(argument, _c(0)), x.eq(argument, _c(1))
        keep = x.sel(arg0, last, x.sel(arg1, middle, first))
        keep_end = x.sel(arg0, b.sub(i, _c(1)), x.sel(arg1, b.sub(last, _c(1)), b.sub(middle, _c(1))))
        end_b = x.index(draw(7, e), x.ld(args["b_len"], p))
        depths(args["b_codes"], row, after_b, before_b)
        start_b = start(before_b, after_b, end_b)
        # 3. the segments of each kind: (source, start, length), sources a S L G b OP = 0..5
        A, S, L, G, B, OP = (_c(v) for v in range(6))
        zero, one = _c(0), _c(1)
        point = lambda source, at: [(A, zero, i), (source, at, one), (A, b.add(i, one), rest)]  # noqa: E731
        by_kind = [
            point(S, i), point(OP, zero), point(L, zero),
            [(A, zero, middle), (A, last, b.sub(i, last)), (A, middle, b.sub(last, middle)), (A, i, b.sub(length, i))],
            [(A, zero, root), (L, zero, leaf_first), (A, root, b.sub(b.add(i, one), root)), (L, zero, leaf_after),
             (OP, zero, one), (A, b.add(i, one), rest)],
            [(A, zero, root), (A, keep, b.sub(b.add(keep_end, one), keep)), (A, b.add(i, one), rest)],
            [(A, zero, root), (G, zero, x.ld(args["graft_len"], e)), (A, b.add(i, one), rest)],
            [(A, zero, root), (B, start_b, b.sub(b.add(end_b, one), start_b)), (A, b.add(i, one), rest)],
        ]
        segments = args["segments"]
        seg_row = b.mul(e, _c(3 * _N_SEGMENTS))
        for kind_code, triples in enumerate(by_kind):
            triples = triples + [(A, zero, zero)] * (_N_SEGMENTS - len(triples))
            with b.if_then(x.eq(k, _c(kind_code))):
                for s, triple in enumerate(triples):
                    for j, value in enumerate(triple):
                        x.st(segments, b.add(seg_row, _c(3 * s + j)), value)

    emit_loop(b, _c(0), E, edit, "edit")

    # Gather: every output position's segment, value index and code (the OP codes are in).
    def gather(b, e):
        p = b.srem(e, n)
        seg_row = b.mul(e, _c(3 * _N_SEGMENTS))
        row_offset = [b.mul(p, w), b.mul(e, w), e, b.mul(e, wg), b.mul(p, w), e]
        bases = [_c(0), base_s, base_l, base_g, base_b, base_op]
        end = _c(0)
        for s in range(_N_SEGMENTS):
            source = x.ld(args["segments"], b.add(seg_row, _c(3 * s)))
            begin = x.ld(args["segments"], b.add(seg_row, _c(3 * s + 1)))
            seg_len = x.ld(args["segments"], b.add(seg_row, _c(3 * s + 2)))
            base, offset = _c(0), _c(0)
            for code, (bs, ro) in enumerate(zip(bases, row_offset)):
                hit = x.eq(source, _c(code))
                base, offset = x.sel(hit, bs, base), x.sel(hit, ro, offset)
            b.store(end, b.gep(begins, [_c(s)]))
            end = b.add(end, seg_len)
            b.store(end, b.gep(ends, [_c(s)]))
            b.store(b.add(b.add(base, offset), begin), b.gep(firsts, [_c(s)]))
        total = end
        x.st(args["total"], e, total)
        out_row = b.mul(e, wide)

        def put(b, k, index):
            x.st(args["edit_index"], b.add(out_row, k), index)
            wrapped = x.sel(x.lt(index, _c(0)), b.add(index, buffer_size), index)
            safe = x.min(x.max(wrapped, _c(0)), b.sub(buffer_size, _c(1)))
            x.st(args["edit_codes"], b.add(out_row, k), x.ld(args["code_buffer"], safe))

        def position(b, k):
            """The JAX kernel's rule: the segment of position k is the number of segment
            ends at or before it (at most 5)."""
            which = _c(0)
            for s in range(_N_SEGMENTS):
                which = b.add(which, x.flag(b.icmp_signed("<=", b.load(b.gep(ends, [_c(s)])), k)))
            which = x.min(which, _c(_N_SEGMENTS - 1))
            index = b.sub(b.add(b.load(b.gep(firsts, [which])), k), b.load(b.gep(begins, [which])))
            put(b, k, x.sel(x.lt(k, total), index, base_pad))

        # Where every segment's length is at least 0 and the edit fits in ``wide`` (always,
        # for valid expressions) that rule is a run of copies; otherwise it is applied as is.
        regular = b.icmp_signed("<=", total, wide)
        for s in range(_N_SEGMENTS):
            regular = b.and_(regular, b.icmp_signed("<=", b.load(b.gep(begins, [_c(s)])), b.load(b.gep(ends, [_c(s)]))))
        with b.if_else(regular) as (copies, general):
            with copies:
                for s in range(_N_SEGMENTS):
                    seg_begin, seg_end = b.load(b.gep(begins, [_c(s)])), b.load(b.gep(ends, [_c(s)]))
                    first_index = b.sub(b.load(b.gep(firsts, [_c(s)])), seg_begin)
                    emit_loop(b, seg_begin, seg_end, lambda b, k: put(b, k, b.add(first_index, k)), f"copy{s}")
                emit_loop(b, total, wide, lambda b, k: put(b, k, base_pad), "pad")
            with general:
                emit_loop(b, _c(0), wide, position, "position")

    emit_loop(b, _c(0), E, gather, "gather")

    # 4. with cross: per parent the first try that fits (cost and width), else the parent
    cross_mode = x.eq(dims["kind_mode"], _c(0))
    with b.if_then(cross_mode):
        width = dims["width"]
        cost_slot, chosen_slot = slot["cost"], slot["chosen"]

        def choose(b, p):
            b.store(_c(-1), chosen_slot)

            def try_body(b, t):
                e = b.add(b.mul(t, n), p)
                # the positions from the edit's length on hold PAD
                filled = x.min(x.ld(args["total"], e), wide)
                b.store(b.mul(b.sub(wide, filled), x.table(args["cost"], dims["pad_code"])), cost_slot)

                def add_cost(b, k):
                    code = x.ld(args["edit_codes"], b.add(b.mul(e, wide), k))
                    b.store(b.add(b.load(cost_slot), x.table(args["cost"], code)), cost_slot)
                emit_loop(b, _c(0), filled, add_cost, "cost")
                fits = b.and_(b.icmp_signed("<=", b.load(cost_slot), dims["maxsize"]),
                              b.icmp_signed("<=", x.ld(args["total"], e), width))
                new = b.and_(fits, x.lt(b.load(chosen_slot), _c(0)))
                b.store(x.sel(new, t, b.load(chosen_slot)), chosen_slot)
            emit_loop(b, _c(0), tries, try_body, "try")
            chosen = b.load(chosen_slot)
            took = x.lt(_c(-1), chosen)
            source = b.add(b.mul(x.max(chosen, _c(0)), n), p)
            length = x.ld(args["a_len"], p)
            x.st(args["out_len"], p, x.sel(took, x.ld(args["total"], source), length))
            out_row, edit_row, parent_row = b.mul(p, width), b.mul(source, wide), b.mul(p, w)

            def column(b, col):
                inside = x.lt(col, w)
                parent_code = x.sel(inside, x.ld(args["a_codes"], b.add(parent_row, x.min(col, b.sub(w, _c(1))))),
                                    dims["pad_code"])
                parent_index = x.sel(b.and_(inside, x.lt(col, length)), b.add(parent_row, col), base_pad)
                code = x.sel(took, x.ld(args["edit_codes"], b.add(edit_row, col)), parent_code)
                index = x.sel(took, x.ld(args["edit_index"], b.add(edit_row, col)), parent_index)
                x.st(args["out_codes"], b.add(out_row, col), code)
                x.st(args["out_index"], b.add(out_row, col), index)
            emit_loop(b, _c(0), width, column, "column")
        emit_loop(b, _c(0), n, choose, "parent")
    b.ret_void()
    return module


@functools.cache
def _compiled():
    engine, address = jit.jit(jit.optimize(str(build_module())), "variation")
    return ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(address), engine


_SLOT = {name: k for k, (name, _) in enumerate(ARRAYS)}
_OUT_CODES, _OUT_INDEX, _OUT_LEN = _SLOT["out_codes"], _SLOT["out_index"], _SLOT["out_len"]


class NativeChildren:
    """The compiled kernel with the tables of one :class:`search.variation.Variation`.

    ``tables``: the host arrays of the variation's lookups (``node_class``, ``arity``,
    ``effect``, ``cost``, ``choices``, ``n_choices``, ``cumulative``,
    ``cumulative_again``), ``acts_on`` ``(8, 6)``, the number of mutation kinds, the
    codes of CONST and PAD and the ``maxsize`` / ``width`` / ``has_unary`` /
    ``has_binary`` settings.
    """

    def __init__(self, tables: dict, acts_on: np.ndarray, n_weights: int, const_code: int, pad_code: int, *,
                 maxsize: int, width: int, has_unary: bool, has_binary: bool):
        self._held = {k: np.ascontiguousarray(v, dtype=np.float32 if k.startswith("cumulative") else np.int32)
                      for k, v in tables.items()}
        self._held["acts_on"] = np.ascontiguousarray(acts_on, dtype=np.int32)
        self._const, self._pad, self._width = const_code, pad_code, width
        self._fixed = dict(maxsize=maxsize, width=width, has_unary=int(has_unary), has_binary=int(has_binary),
                           choice_cols=self._held["choices"].shape[1], table_size=len(self._held["arity"]),
                           pad_code=pad_code, n_weights=n_weights)
        self._table_addresses = np.zeros(len(ARRAYS), dtype=np.int64)
        for name, array in self._held.items():
            self._table_addresses[_SLOT[name]] = array.ctypes.data
        self._scratch_key = self._scratch_cached = None
        self._fn, self._engine = _compiled()

    def _scratch(self, n: int, tries: int, w: int, wg: int, n_u: int, keep: bool) -> tuple:
        """The work arrays for this shape, the kernel's array addresses pointing into them,
        the code buffer's segment ends and the addresses of ``dims`` and of the addresses;
        reused from the last call unless ``keep`` (the
        per-edit results are returned, so they must be fresh).

        Besides the kernel's own work arrays the scratch holds the call's inputs: ``u``,
        and ``ints``, the lengths and the kinds or crossover flags side by side; the
        parents' and partners' codes are read where the code buffer holds them.  Copying
        into arrays whose addresses are known costs less than asking NumPy for the
        addresses of the caller's arrays at every call."""
        key = (n, tries, w, wg, n_u)
        if not keep and key == self._scratch_key:
            return self._scratch_cached
        n_edits, wide = n * tries, 2 * w + wg + 2
        i32 = np.int32
        # the codes in the flat value buffer's layout: a, S (constants), L, G, b, OP (the
        # kernel writes those), pad
        ends = np.cumsum([n * w, n_edits * w, n_edits, n_edits * wg, n * w]).tolist()
        scratch = dict(code_buffer=np.empty(ends[-1] + n_edits + 1, i32),
                       segments=np.empty(n_edits * 3 * _N_SEGMENTS, i32), edit_codes=np.empty((n_edits, wide), i32),
                       edit_index=np.empty((n_edits, wide), i32), total=np.empty(n_edits, i32),
                       u=np.empty((n_u, n_edits), np.float32), ints=np.empty(2 * n + 2 * n_edits, i32))
        addresses = self._table_addresses.copy()
        for name, array in scratch.items():
            if name in _SLOT:
                addresses[_SLOT[name]] = array.ctypes.data
        base, ints = scratch["code_buffer"].ctypes.data, scratch["ints"].ctypes.data
        for name, address in (("u", scratch["u"].ctypes.data), ("a_codes", base), ("b_codes", base + 4 * ends[3]),
                              ("a_len", ints), ("b_len", ints + 4 * n), ("graft_len", ints + 8 * n),
                              ("kind_or_cross", ints + 8 * n + 4 * n_edits)):
            addresses[_SLOT[name]] = address
        scratch["dims"] = np.array([{"n": n, "w": w, "tries": tries, "wg": wg, "kind_mode": int(keep), **self._fixed}[k]
                                    for k in DIMS], dtype=np.int64)
        scratch["code_buffer"][-1] = self._pad
        scratch["code_buffer"][ends[0]:ends[1]] = self._const
        cached = scratch, addresses, ends, scratch["dims"].ctypes.data, addresses.ctypes.data
        if not keep:
            self._scratch_key, self._scratch_cached = key, cached
        return cached

    def __call__(self, u, a_codes, a_len, b_codes, b_len, leaf_codes, graft_codes, graft_len, kind, cross, tries):
        """``(codes, value_index, lengths)`` as :func:`search.variation._children` returns
        them; ``u`` ``(n_u, n * tries)``, codes ``(n, w)``, the rest one-dimensional."""
        n, w = a_codes.shape
        n_edits, wg = n * tries, graft_codes.shape[1]
        kind_mode = kind is not None
        if not kind_mode and 2 * w + wg + 2 < self._width:
            raise ValueError(f"parents of width {w} are too narrow for children of width {self._width}")
        if kind_mode and kind.size and not (0 <= kind.min() and kind.max() <= self._fixed["n_weights"]):
            raise ValueError(f"edit kinds must be 0 .. {self._fixed['n_weights']}")
        scratch, addresses, ends, dims_address, addresses_address = self._scratch(n, tries, w, wg, len(u),
                                                                                   keep=kind_mode)
        code_buffer, ints = scratch["code_buffer"], scratch["ints"]
        code_buffer[:ends[0]] = a_codes.ravel()
        code_buffer[ends[1]:ends[2]] = leaf_codes
        code_buffer[ends[2]:ends[3]] = graft_codes.ravel()
        code_buffer[ends[3]:ends[4]] = b_codes.ravel()
        scratch["u"][...] = u
        ints[:n], ints[n:2 * n], ints[2 * n:2 * n + n_edits] = a_len, b_len, graft_len
        flags = kind if kind_mode else cross
        ints[2 * n + n_edits:2 * n + n_edits + len(flags)] = flags
        # the kernel indexes its tables with these without bounds checks: one check over
        # them all, and only when it fails the arrays one by one, to say which
        table_size = self._fixed["table_size"]

        def outside(codes) -> bool:
            return codes.size > 0 and not (-1 <= codes.min() and codes.max() < table_size - 1)
        if outside(code_buffer[:ends[4]]):
            name = next(name for name, codes in (("parent", a_codes), ("partner", b_codes), ("graft", graft_codes),
                                                 ("leaf", leaf_codes)) if outside(np.asarray(codes)))
            raise ValueError(f"{name} codes outside the operator set's codes (PAD, 0 .. {table_size - 2})")
        width = self._width
        out = np.empty(n * (2 * width + 1), np.int32)   # codes, value indices, lengths
        address = jit.address(out)
        addresses[_OUT_CODES], addresses[_OUT_INDEX], addresses[_OUT_LEN] = (
            address, address + 4 * n * width, address + 8 * n * width)
        self._fn(dims_address, addresses_address)
        if kind_mode:
            return scratch["edit_codes"], scratch["edit_index"], scratch["total"]
        return out[:n * width].reshape(n, width), out[n * width:2 * n * width].reshape(n, width), out[2 * n * width:]
