"""Mutation and crossover of whole populations: one compiled JAX step per generation.

Every edit of a postfix expression ``a`` (a row of a :class:`~search.population.Population`)
is a concatenation of at most six *segments*, each a run of nodes of one source: ``a``
itself, ``a`` with every constant rescaled (``S``), a random leaf (``L``), a small random
subtree (``G``, the graft), a crossover partner ``b``, or one operator node (``OP``):

========================  ==========================================================
constant                  ``a[:i] + S[i] + a[i+1:]``: constant ``i`` scaled by
                          ``exp(±N(0, 1/2))``, negated one time in ten
operator                  ``a[:i] + OP + a[i+1:]``: an operator of the same arity
leaf                      ``a[:i] + L + a[i+1:]``
swap                      ``a[:l] + a[r:i] + a[l:r] + a[i:]``: the operands of binary ``i``
insert                    subtree ``a[s:i+1]`` wrapped as ``u(s)``, ``s L op`` or ``L s op``
delete                    operator ``i`` replaced by one of its arguments
replace_subtree           subtree ``a[s:i+1]`` replaced by ``G`` (1 to 5 nodes)
crossover                 subtree ``a[s:i+1]`` replaced by a random subtree of ``b``
========================  ==========================================================

Subtree spans come from the *stack depth* ``c[j] = Σ_{k ≤ j} (1 − arity(a[k]))`` (a prefix
sum of arities, as in EvoGP and Kozax): the subtree whose root is node ``e`` starts at the
last ``s ≤ e`` with ``c[s − 1] = c[e] − 1``.  The positions, spans, segments, the gather of
the children's codes, the ``maxsize`` check and the choice among retries are one jitted
function of integer arrays (:func:`_children`), so a generation costs one call; the same
function compiled natively (:mod:`search.variation_native`, equal element for element)
replaces it unless ``DISCOVER_VARIATION=jax``: XLA's fixed cost of about 60 small fusions
was a third of a 4-island generation on a CPU.  Constants stay float64 on the host: the kernel returns, for every node of
every child, the index of its value in a host buffer of the sources' values, and the host
gathers them.  All randomness is drawn on the host from the search's
``numpy.random.Generator`` (uniforms passed in), so a seed fixes the result.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from .mutate import Grammar, leaves_from_draws, random_expr
from .operators import CONST, VAR
from .population import PAD, Population, Tables, empty, from_exprs

#: The edits, in the order of their codes, and the weight with which a mutation is each of
#: them (PySR's defaults in spirit); crossover is chosen apart, with its own probability.
MUTATION_WEIGHTS = {"constant": 0.30, "operator": 0.15, "leaf": 0.15, "swap": 0.05,
                    "insert": 0.20, "delete": 0.10, "replace_subtree": 0.05}
EDITS = tuple(MUTATION_WEIGHTS) + ("crossover",)
KIND = {name: i for i, name in enumerate(EDITS)}

# Node classes (per code) and which classes each edit may act on.
_CONST, _VAR, _UNARY, _BINARY, _TERNARY, _PAD = range(6)
_ACTS_ON = np.array([
    # const  var    unary  binary ternary pad
    [1, 0, 0, 0, 0, 0],  # constant
    [0, 0, 1, 1, 1, 0],  # operator
    [1, 1, 0, 0, 0, 0],  # leaf
    [0, 0, 0, 1, 0, 0],  # swap
    [1, 1, 1, 1, 1, 0],  # insert
    [0, 0, 1, 1, 1, 0],  # delete
    [1, 1, 1, 1, 1, 0],  # replace_subtree
    [1, 1, 1, 1, 1, 0],  # crossover
], dtype=bool)

# Sources of a child's nodes (see the module docstring).
_A, _S, _L, _G, _B, _OP = range(6)
#: Uniform draws per candidate edit (rows of the ``u`` array).
_N_UNIFORMS = 9
_GRAFT_SIZES = 5  # the graft bank holds subtrees of 1 .. 5 nodes in equal shares
#: Mutations that may lengthen an expression; a second try draws among the others.
_GROWING = ("insert", "replace_subtree")


class Variation:
    """Mutation and crossover for one grammar on populations of at most ``width`` nodes.

    ``rng`` draws the bank of small random subtrees that ``replace_subtree`` grafts (their
    leaves are drawn afresh at every use)."""

    def __init__(self, g: Grammar, width: int, rng: np.random.Generator, bank_size: int = 1000):
        self.g = g
        self.width = width
        tables = Tables(g.ops)
        arity = tables.arity
        node_class = np.where(arity == 0, _VAR, _UNARY + arity - 1)
        node_class[CONST], node_class[-1] = _CONST, _PAD
        choices = np.zeros((4, max(1, len(g.unary), len(g.binary), len(g.ternary))), dtype=np.int32)
        n_choices = np.zeros(4, dtype=np.int32)
        for a in (1, 2, 3):
            choices[a, : len(g.of_arity(a))] = g.of_arity(a)
            n_choices[a] = len(g.of_arity(a))
        weights = np.array(list(MUTATION_WEIGHTS.values()))
        again = weights * [name not in _GROWING for name in MUTATION_WEIGHTS]
        host = dict(cost=tables.cost, effect=tables.effect, arity=arity, node_class=node_class.astype(np.int32),
                    choices=choices, n_choices=n_choices,
                    cumulative=(np.cumsum(weights) / weights.sum()).astype(np.float32),
                    cumulative_again=(np.cumsum(again) / again.sum()).astype(np.float32))
        self._tables = {k: jnp.asarray(v) for k, v in host.items()}
        self._flags = dict(maxsize=g.maxsize, width=width, has_unary=bool(g.unary), has_binary=bool(g.binary))
        self._native = _native_kernel(host, self._flags)
        self.bank = from_exprs([random_expr(rng, g, 1 + k % _GRAFT_SIZES) for k in range(bank_size)])

    def _host_sources(self, rng: np.random.Generator, a: Population, n_edits: int):
        """What the kernel gathers from that lives on the host: the draws, the random leaves,
        the grafts and every float64 value (rows ``e`` of the edits act on parent ``e % n``)."""
        g, n = self.g, len(a)
        parent = np.arange(n_edits) % n
        wg = self.bank.width
        # every draw at once, in rows: the edits' uniforms, the constant factor's sign and
        # inversion, the graft, and per leaf slot (the edit's own, then wg in its graft) the
        # uniforms and normals of a random leaf
        uniform = rng.random((_N_UNIFORMS + 3 + 2 * (1 + wg), n_edits))
        normal = rng.normal(size=(2 + wg, n_edits))
        u = uniform[:_N_UNIFORMS].astype(np.float32)
        invert, negate, pick = uniform[_N_UNIFORMS:_N_UNIFORMS + 3]
        codes, values = leaves_from_draws(uniform[_N_UNIFORMS + 3:_N_UNIFORMS + 4 + wg], normal[1:],
                                          uniform[_N_UNIFORMS + 4 + wg:], g)
        leaf_codes, leaf_values = codes[0], values[0]
        factor = np.exp(normal[0] * 0.5)
        factor = np.where(invert < 0.5, factor, 1 / factor) * np.where(negate < 0.1, -1, 1)
        scaled = a.values[parent] * factor[:, None]
        graft = self.bank.take(np.minimum((pick * len(self.bank)).astype(np.int64), len(self.bank) - 1))
        is_leaf = (graft.codes == CONST) | (graft.codes == VAR)
        graft_codes = np.where(is_leaf, codes[1:].T, graft.codes).astype(np.int32)
        graft_values = np.where(is_leaf, values[1:].T, graft.values)
        return u, leaf_codes, leaf_values, scaled, graft_codes, graft_values, graft.lengths

    def _run(self, rng, a: Population, b: Population, kind: np.ndarray | None, cross: np.ndarray | None,
             tries: int) -> Population:
        n = len(a)
        n_edits = n * tries
        u, leaf_codes, leaf_values, scaled, graft_codes, graft_values, graft_lengths = self._host_sources(rng, a, n_edits)
        b = _widen(b, a.width)
        int32 = functools.partial(np.ascontiguousarray, dtype=np.int32)
        arrays = (u, int32(a.codes), int32(a.lengths), int32(b.codes), int32(b.lengths), int32(leaf_codes),
                  int32(graft_codes), int32(graft_lengths), None if kind is None else int32(kind), cross)
        if self._native is not None:
            codes, value_index, lengths = self._native(*arrays, tries)
        else:
            codes, value_index, lengths = _children(*arrays, self._tables, tries=tries, **self._flags)
        buffer = np.concatenate([a.values.ravel(), scaled.ravel(), leaf_values, graft_values.ravel(),
                                 b.values.ravel(), np.zeros(n_edits + 1)])
        codes = np.asarray(codes)
        return Population(codes, buffer[np.asarray(value_index)], np.asarray(lengths).astype(np.int64))

    def edit(self, rng: np.random.Generator, a: Population, b: Population, kind: np.ndarray) -> Population:
        """Row ``k`` of ``a`` edited by ``EDITS[kind[k]]`` (``b``'s row ``k`` is the crossover
        partner), whatever its size; an edit with nothing to act on in its row (a constant
        mutation without a constant) falls back as in :meth:`children`."""
        out = self._run(rng, a, b, np.asarray(kind), None, 1)
        width = max(int(out.lengths.max(initial=0)), 1)
        return Population(out.codes[:, :width], out.values[:, :width], out.lengths)

    def children(self, rng: np.random.Generator, parents: Population, partners: Population, cross: np.ndarray,
                 tries: int = 2) -> Population:
        """One child per parent within ``maxsize``: ``tries`` edits are drawn for every
        parent at once (the first is the crossover with its partner where ``cross``, else
        a mutation; the later ones mutations that do not lengthen it) and the first that
        fits is the child; a parent none of whose edits fits (a costlier operator where
        operators' costs differ) is copied."""
        return self._run(rng, parents, partners, None, np.asarray(cross, dtype=bool), tries)


def _native_kernel(host_tables: dict, flags: dict):
    """The compiled kernel (:mod:`search.variation_native`) for these tables, unless
    ``DISCOVER_VARIATION=jax`` asks for the JAX kernel; both give the same children."""
    if os.environ.get("DISCOVER_VARIATION", "native").lower() == "jax":
        return None
    from .variation_native import NativeChildren

    return NativeChildren(host_tables, _ACTS_ON, len(MUTATION_WEIGHTS), CONST, PAD, **flags)


def _widen(p: Population, width: int) -> Population:
    if p.width == width:
        return p
    out = empty(len(p), width)
    out.put(np.arange(len(p)), p)
    return out


@functools.partial(jax.jit, static_argnames=("tries", "maxsize", "width", "has_unary", "has_binary"))
def _children(u, a_codes, a_len, b_codes, b_len, leaf_codes, graft_codes, graft_len, kind, cross, t, *,
              tries, maxsize, width, has_unary, has_binary):
    """The kernel: ``tries`` edits of each of the ``n`` parents ``a`` (edit ``e`` acts on
    parent ``e % n``), their codes gathered, checked against ``maxsize`` and ``width``, and
    per parent the first that fits (or the parent): codes ``(n, width)``, each node's index
    into the flat buffer of the sources' values ``[a, S, L, G, b, OP, pad]`` (OP and pad
    hold 0) and the lengths ``(n,)``.  With ``kind`` given instead of ``cross`` (``tries =
    1``) every edit is returned as it is, whatever its size, ``2 w + wg + 2`` wide."""
    n, w = a_codes.shape
    n_edits = n * tries
    wg = graft_codes.shape[1]
    e = jnp.arange(n_edits)
    p = e % n
    codes = a_codes[p]
    length = a_len[p]
    cls = t["node_class"][codes]
    col = jnp.arange(w)

    # What each edit is: a mutation drawn by weight, falling back where it has nothing to
    # act on (constant -> operator -> leaf; swap, delete -> leaf; insert -> leaf without
    # operators), or the crossover.
    if kind is None:
        kind = jnp.where(e < n, jnp.searchsorted(t["cumulative"], u[0], side="right"),
                         jnp.searchsorted(t["cumulative_again"], u[0], side="right"))
        kind = jnp.minimum(kind, len(MUTATION_WEIGHTS) - 1)
        kind = jnp.where((e < n) & jnp.concatenate([cross, jnp.zeros(n_edits - n, bool)]), KIND["crossover"], kind)
    has = [(cls == c).any(axis=1) for c in range(5)]
    has_op = has[_UNARY] | has[_BINARY] | has[_TERNARY]
    kind = jnp.where((kind == KIND["constant"]) & ~has[_CONST], KIND["operator"], kind)
    kind = jnp.where((kind == KIND["operator"]) & ~has_op, KIND["leaf"], kind)
    kind = jnp.where(((kind == KIND["swap"]) & ~has[_BINARY]) | ((kind == KIND["delete"]) & ~has_op), KIND["leaf"], kind)
    if not (has_unary or has_binary):
        kind = jnp.where(kind == KIND["insert"], KIND["leaf"], kind)

    # The node it acts on: uniform among the nodes of the right class.
    mask = jnp.asarray(_ACTS_ON)[kind[:, None], cls]
    i = _pick(u[1], mask)

    starts_in_a = _subtree_starts(t["effect"][codes])

    def start(end):
        return starts_in_a(jnp.maximum(end, 0))

    root = start(i)
    last = start(i - 1)
    middle = start(last - 1)
    first = start(middle - 1)
    rest = length - i - 1

    node = jnp.take_along_axis(codes, i[:, None], axis=1)[:, 0]
    node_arity = t["arity"][node]
    count = t["n_choices"][node_arity]
    same_arity = jnp.where(count > 0, t["choices"][node_arity, _index(u[2], jnp.maximum(count, 1))], node)
    unary = jnp.full(n_edits, has_unary) & ((not has_binary) | (u[3] < 0.4))
    wrap = jnp.where(unary, t["choices"][1, _index(u[4], jnp.maximum(t["n_choices"][1], 1))],
                     t["choices"][2, _index(u[4], jnp.maximum(t["n_choices"][2], 1))])
    op_code = jnp.where(kind == KIND["operator"], same_arity, wrap)
    leaf_first = (~unary & (u[5] < 0.5)).astype(jnp.int32)   # insert: L s op rather than s L op
    leaf_after = (~unary).astype(jnp.int32) - leaf_first
    argument = _index(u[6], jnp.maximum(node_arity, 1))     # delete: 0 = the last argument
    keep = jnp.select([argument == 0, argument == 1], [last, middle], first)
    keep_end = jnp.select([argument == 0, argument == 1], [i - 1, last - 1], middle - 1)
    b_rows = b_codes[p]
    end_b = _index(u[7], b_len[p])
    start_b = _subtree_starts(t["effect"][b_rows])(end_b)

    zero = jnp.zeros_like(i)

    def seg(*triples):  # up to six (source, start, length) triples -> (E, 6, 3)
        triples = list(triples) + [(_A, zero, zero)] * (6 - len(triples))
        return jnp.stack([jnp.stack([jnp.broadcast_to(jnp.asarray(x, jnp.int32), (n_edits,)) for x in tr], -1)
                          for tr in triples], 1)

    def point(source, at):  # a[:i] + source[at] + a[i+1:]
        return seg((_A, 0, i), (source, at, 1), (_A, i + 1, rest))

    by_kind = jnp.stack([
        point(_S, i), point(_OP, 0), point(_L, 0),
        seg((_A, 0, middle), (_A, last, i - last), (_A, middle, last - middle), (_A, i, length - i)),
        seg((_A, 0, root), (_L, 0, leaf_first), (_A, root, i + 1 - root), (_L, 0, leaf_after), (_OP, 0, 1),
            (_A, i + 1, rest)),
        seg((_A, 0, root), (_A, keep, keep_end + 1 - keep), (_A, i + 1, rest)),
        seg((_A, 0, root), (_G, 0, graft_len[e]), (_A, i + 1, rest)),
        seg((_A, 0, root), (_B, start_b, end_b + 1 - start_b), (_A, i + 1, rest)),
    ])
    segments = by_kind[kind, e]                              # (E, 6, 3)

    # Gather: the segment, source and position of every output node.
    wide = 2 * w + wg + 2
    k = jnp.arange(wide)
    seg_len = segments[..., 2]
    ends = jnp.cumsum(seg_len, axis=1)
    total = ends[:, -1]
    which = jnp.minimum((ends[:, None, :] <= k[None, :, None]).sum(-1), 5)
    inside = k < total[:, None]
    # Each node's index in one flat buffer of every source: a, S, L, G, b, OP, then a pad slot.
    base = jnp.asarray(np.cumsum([0, n * w, n_edits * w, n_edits, n_edits * wg, n * w, n_edits]))
    row_offset = jnp.stack([p * w, e * w, e, e * wg, p * w, e], axis=1)         # (E, sources)
    first = base[segments[..., 0]] + jnp.take_along_axis(row_offset, segments[..., 0], axis=1) + segments[..., 1]
    out_index = jnp.take_along_axis(first, which, axis=1) + k - jnp.take_along_axis(ends - seg_len, which, axis=1)
    out_index = jnp.where(inside, out_index, base[-1])
    code_buffer = jnp.concatenate([a_codes.ravel(), jnp.full(n_edits * w, CONST, a_codes.dtype), leaf_codes,
                                   graft_codes.ravel(), b_codes.ravel(), op_code.astype(a_codes.dtype),
                                   jnp.full(1, PAD, a_codes.dtype)])
    out_codes = code_buffer[out_index]

    if cross is None:  # edits as requested
        return out_codes, out_index, total
    # The first edit of each parent that fits, else the parent.
    fits = (t["cost"][out_codes].sum(axis=1) <= maxsize) & (total <= width)
    fits = fits.reshape(tries, n)
    chosen = jnp.argmax(fits, axis=0) * n + jnp.arange(n)
    took = fits.any(axis=0)
    parent_index = jnp.where(col < a_len[:, None], jnp.arange(n)[:, None] * w + col, base[-1])
    pad = max(0, width - w)
    parent_codes = jnp.pad(a_codes, ((0, 0), (0, pad)), constant_values=PAD)[:, :width]
    parent_index = jnp.pad(parent_index, ((0, 0), (0, pad)), constant_values=n * w)[:, :width]
    parent_index = jnp.where(parent_index == n * w, base[-1], parent_index)
    child_codes = jnp.where(took[:, None], out_codes[chosen, :width], parent_codes)
    child_index = jnp.where(took[:, None], out_index[chosen, :width], parent_index)
    return child_codes, child_index, jnp.where(took, total[chosen], a_len)


def _subtree_starts(effect):
    """From the stack effect ``1 − arity`` of every node ``(E, W)``, the function mapping a
    root ``end (E,)`` to the first node of its subtree: the last ``s ≤ end`` whose depth
    before it equals the depth after ``end`` minus one."""
    after = jnp.cumsum(effect, axis=1)
    before = after - effect
    col = jnp.arange(effect.shape[1])

    def starts(end):
        target = jnp.take_along_axis(after, end[:, None], axis=1) - 1
        return jnp.max(jnp.where((before == target) & (col <= end[:, None]), col, -1), axis=1)
    return starts


def _index(u, high):
    """A uniform integer in ``[0, high)`` from a uniform ``u`` in ``[0, 1)``."""
    return jnp.minimum((u * high).astype(jnp.int32), high - 1)


def _pick(u, mask):
    """Per row, a uniformly chosen column where ``mask`` is True (0 where none is)."""
    count = mask.sum(axis=1)
    k = jnp.minimum((u * count).astype(jnp.int32), jnp.maximum(count - 1, 0))
    return jnp.argmax(jnp.cumsum(mask, axis=1) > k[:, None], axis=1).astype(jnp.int32)
