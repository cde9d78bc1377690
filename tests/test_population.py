"""Populations as arrays (search.population) and the variation operators on them (search.variation)."""

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from search import native
from search.expression import children as argument_spans
from search.expression import complexity, is_valid, subtree_start
from search.mutate import Grammar, random_expr
from search.operators import BUILTIN, Operator
from search.population import PAD, Tables, flatten, from_exprs, to_exprs
from search.population import complexity as complexities
from search.variation import EDITS, KIND, Variation

GRAMMAR = Grammar(n_vars=3, binary=tuple(BUILTIN.code[n] for n in "+-*/"),
                  unary=tuple(BUILTIN.code[n] for n in ("sin", "exp", "neg")), maxsize=15,
                  ternary=(BUILTIN.code["fma"],))


def population(seed: int, n: int = 200, g: Grammar = GRAMMAR):
    """``n`` random expressions within ``maxsize`` (a fixed count: one kernel compilation
    serves every hypothesis example)."""
    rng = np.random.default_rng(seed)
    exprs = []
    while len(exprs) < n:
        e = random_expr(rng, g, int(rng.integers(1, g.maxsize + 1)))
        if complexity(e, g.ops) <= g.maxsize:
            exprs.append(e)
    return exprs


@hsettings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_array_population_round_trips_with_the_expression_type(seed):
    exprs = population(seed)
    pop = from_exprs(exprs, GRAMMAR.maxsize)
    back = to_exprs(pop)
    assert back == exprs
    assert all(type(v) is int for e in back for c, v in e if c != 0)  # indices and operators as ints
    assert (pop.codes[~pop.valid()] == PAD).all()
    for ours, theirs in zip(flatten(pop), native.flatten(exprs)):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(complexities(pop, Tables(BUILTIN)), [complexity(e) for e in exprs])


def test_an_expression_wider_than_the_population_is_refused():
    with pytest.raises(ValueError, match="does not fit width 2"):
        from_exprs([((1, 0), (1, 1), (2, 0))], 2)


def subtrees(expr):
    """Every subtree of ``expr`` as a tuple."""
    return {expr[subtree_start(expr, end):end + 1] for end in range(len(expr))}


@hsettings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_crossover_and_subtree_edits_replace_exactly_one_subtree(seed):
    """Each child is ``a[:s] + piece + a[e+1:]`` for a subtree ``a[s:e+1]`` of its parent,
    where the piece is a subtree of the partner (crossover), an argument of the replaced
    root (delete) or the replaced subtree wrapped in one operator (insert)."""
    exprs = population(seed, 80)
    partners = exprs[::-1]
    rng = np.random.default_rng(seed)
    variation = Variation(GRAMMAR, GRAMMAR.maxsize, rng)
    for kind in ("crossover", "delete", "insert"):
        rows = [k for k, e in enumerate(exprs) if kind != "delete" or any(c > 1 for c, _ in e)]
        a = [exprs[k] for k in rows]
        edited = to_exprs(variation.edit(rng, from_exprs(a), from_exprs([partners[k] for k in rows]),
                                         np.full(len(rows), KIND[kind])))
        for parent, partner, child in zip(a, [partners[k] for k in rows], edited):
            found = False
            for end in range(len(parent)):
                start = subtree_start(parent, end)
                head, tail = parent[:start], parent[end + 1:]
                if child[:len(head)] != head or child[len(child) - len(tail):] != tail or len(child) < len(head) + len(tail):
                    continue
                piece = child[len(head):len(child) - len(tail)]
                old = parent[start:end + 1]
                if kind == "crossover":
                    found = piece in subtrees(partner)
                elif kind == "delete":
                    found = piece in {old[s:e + 1] for s, e in argument_spans(old, len(old) - 1)}
                else:
                    found = old in (piece[:len(old)], piece[1:len(old) + 1]) and piece[-1][0] > 1
                if found:
                    break
            assert found, (kind, parent, child)


@pytest.mark.parametrize("kind", EDITS)
def test_every_edit_yields_valid_expressions_of_its_kind(kind):
    exprs = population(1, 400)
    tables = Tables(BUILTIN)
    need = {"constant": lambda e: any(c == 0 for c, _ in e), "operator": lambda e: any(c > 1 for c, _ in e),
            "delete": lambda e: any(c > 1 for c, _ in e), "swap": lambda e: any(BUILTIN.arity(c) == 2 for c, _ in e)}
    exprs = [e for e in exprs if need.get(kind, bool)(e)]
    partners = exprs[::-1]
    rng = np.random.default_rng(2)
    variation = Variation(GRAMMAR, GRAMMAR.maxsize, rng)
    edited = to_exprs(variation.edit(rng, from_exprs(exprs), from_exprs(partners), np.full(len(exprs), KIND[kind])))
    assert all(is_valid(e) for e in edited)
    for before, after in zip(exprs, edited):
        differs = [k for k in range(min(len(before), len(after))) if before[k] != after[k]]
        if kind in ("constant", "operator", "leaf"):
            assert len(after) == len(before) and len(differs) <= 1
            if differs and kind != "leaf":
                k = differs[0]
                assert after[k][0] == 0 if kind == "constant" else tables.arity[after[k][0]] == tables.arity[before[k][0]]
        elif kind == "swap":
            assert sorted(after) == sorted(before)
        elif kind == "insert":
            assert len(after) in (len(before) + 1, len(before) + 2)
        elif kind == "delete":
            assert len(after) < len(before)
    changed = np.mean([a != b for a, b in zip(exprs, edited)])
    assert changed > (0.5 if kind in ("operator", "leaf") else 0.9)


@hsettings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cross=st.floats(0.0, 1.0))
def test_mutation_and_crossover_always_yield_valid_expressions_within_maxsize(seed, cross):
    exprs = population(seed, 100)
    rng = np.random.default_rng(seed)
    variation = Variation(GRAMMAR, GRAMMAR.maxsize, rng)
    parents = from_exprs(exprs, GRAMMAR.maxsize)
    children = to_exprs(variation.children(rng, parents, parents.take(rng.permutation(len(exprs))),
                                           rng.random(len(exprs)) < cross))
    assert len(children) == len(exprs)
    assert all(is_valid(c) and complexity(c) <= GRAMMAR.maxsize for c in children)
    assert np.mean([c != p for c, p in zip(children, exprs)]) > 0.6


def test_variation_is_deterministic_for_a_seed():
    exprs = population(3)

    def children(seed):
        rng = np.random.default_rng(seed)
        variation = Variation(GRAMMAR, GRAMMAR.maxsize, rng)
        pop = from_exprs(exprs, GRAMMAR.maxsize)
        return to_exprs(variation.children(rng, pop, pop.take(np.arange(len(exprs))[::-1]), rng.random(len(exprs)) < 0.3))

    assert children(7) == children(7)
    assert children(7) != children(8)


def test_swap_exchanges_the_operands_of_the_only_binary_operator():
    rng = np.random.default_rng(0)
    minus, sin = BUILTIN.code["-"], BUILTIN.code["sin"]
    exprs = [((1, 0), (1, 1), (minus, 0)), ((1, 0), (sin, 0), (0, 2.5), (minus, 0))]
    out = to_exprs(Variation(GRAMMAR, 15, rng).edit(rng, from_exprs(exprs), from_exprs(exprs), np.full(2, KIND["swap"])))
    assert out == [((1, 1), (1, 0), (minus, 0)), ((0, 2.5), (1, 0), (sin, 0), (minus, 0))]


def test_operator_costs_bound_the_children_and_a_grammar_without_operators_still_varies():
    heavy = BUILTIN.with_operators(Operator("sinh", 1, np.sinh, np.sinh, lambda a: a, complexity=4))
    g = Grammar(n_vars=2, binary=(heavy.code["+"],), unary=(heavy.code["sinh"],), maxsize=9, ops=heavy)
    rng = np.random.default_rng(0)
    exprs = [e for e in (random_expr(rng, g, int(rng.integers(1, 8))) for _ in range(300)) if complexity(e, heavy) <= 9]
    variation = Variation(g, 9, rng)
    pop = from_exprs(exprs, 9)
    children = to_exprs(variation.children(rng, pop, pop, np.zeros(len(exprs), dtype=bool)))
    assert all(complexity(c, heavy) <= 9 for c in children)
    assert any(heavy.code["sinh"] in (c for c, _ in e) for e in children)
    leaves_only = Grammar(n_vars=2, binary=(), unary=(), maxsize=5)
    single = from_exprs([((1, 0),), ((0, 2.0),)], 5)
    out = to_exprs(Variation(leaves_only, 5, rng).children(rng, single, single, np.zeros(2, dtype=bool)))
    assert all(len(e) == 1 and e[0][0] in (0, 1) for e in out)


HEAVY = BUILTIN.with_operators(Operator("sinh", 1, np.sinh, np.sinh, lambda a: a, complexity=4))
_GRAMMARS = {
    "full": GRAMMAR,
    "costly": Grammar(n_vars=2, binary=(HEAVY.code["+"],), unary=(HEAVY.code["sinh"],), maxsize=9, ops=HEAVY),
    "binary only": Grammar(n_vars=2, binary=tuple(BUILTIN.code[n] for n in "+*"), unary=(), maxsize=11),
    "unary only": Grammar(n_vars=1, binary=(), unary=(BUILTIN.code["sin"],), maxsize=6),
    "leaves only": Grammar(n_vars=2, binary=(), unary=(), maxsize=5),
}


def _compare_variation_kernels(g: Grammar, seed: int, n: int, cross: float, width: int) -> None:
    """The native and the JAX kernel on the same draws, in both modes (children with two
    tries; one edit of a given kind each): equal element for element."""
    import functools

    from search.variation import MUTATION_WEIGHTS, _children

    rng = np.random.default_rng(seed)
    variation = Variation(g, g.maxsize, rng)
    assert variation._native is not None
    exprs = population(seed, n, g)
    a = from_exprs(exprs, width)
    b = from_exprs([exprs[k] for k in rng.permutation(n)], width)
    int32 = functools.partial(np.ascontiguousarray, dtype=np.int32)
    for tries, kind, crossed in ((2, None, rng.random(n) < cross),
                                 (1, int32(rng.integers(0, len(MUTATION_WEIGHTS) + 1, n)), None)):
        u, leaf_codes, _, _, graft_codes, _, graft_lengths = variation._host_sources(rng, a, n * tries)
        arrays = (u, int32(a.codes), int32(a.lengths), int32(b.codes), int32(b.lengths), int32(leaf_codes),
                  int32(graft_codes), int32(graft_lengths), kind, crossed)
        native = variation._native(*arrays, tries)
        reference = _children(*arrays, variation._tables, tries=tries, **variation._flags)
        for got, want in zip(native, reference):
            np.testing.assert_array_equal(got, np.asarray(want))


@hsettings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), grammar=st.sampled_from(sorted(_GRAMMARS)), n=st.sampled_from([1, 7, 300]),
       cross=st.floats(0.0, 1.0), narrow=st.booleans())
def test_the_native_variation_kernel_equals_the_jax_kernel(seed, grammar, n, cross, narrow):
    """On populations as wide as the variation's width or narrower (as far as the kernel
    allows: an edit's ``2 w + 7`` positions must cover the width)."""
    g = _GRAMMARS[grammar]
    exprs_width = max(len(e) for e in population(seed, n, g))
    _compare_variation_kernels(g, seed, n, cross, max(exprs_width, (g.maxsize - 6) // 2) if narrow else g.maxsize)


def test_the_native_variation_kernel_equals_the_jax_kernel_on_a_large_population():
    """Tens of thousands of edits, so that rare branches (a draw's threshold, a fallback)
    are taken: moving the insert's unary/binary threshold (0.4) or its leaf-order threshold
    (0.5) by half a per cent of the draw's range fails this test (checked)."""
    _compare_variation_kernels(GRAMMAR, 11, 10000, 0.1, GRAMMAR.maxsize)


def test_the_native_variation_kernel_refuses_codes_outside_its_tables():
    """It indexes its tables without bounds checks, so out-of-range codes never reach it."""
    import functools

    rng = np.random.default_rng(0)
    variation = Variation(GRAMMAR, GRAMMAR.maxsize, rng)
    a = from_exprs(population(0, 5), GRAMMAR.maxsize)
    int32 = functools.partial(np.ascontiguousarray, dtype=np.int32)
    u, leaf_codes, _, _, graft_codes, _, graft_lengths = variation._host_sources(rng, a, 10)
    bad = int32(a.codes)
    bad[0, 0] = len(BUILTIN.operators) + 2  # one past the last operator's code
    with pytest.raises(ValueError, match="parent codes"):
        variation._native(u, bad, int32(a.lengths), int32(a.codes), int32(a.lengths), int32(leaf_codes),
                          int32(graft_codes), int32(graft_lengths), None, np.zeros(5, bool), 2)


@pytest.mark.parametrize("which", ["parent", "partner"])
def test_codes_outside_the_operator_set_are_refused_and_named(which):
    """The compiled kernel indexes its tables with the codes unchecked: one range check
    covers them all, and the error names the array that holds the bad code."""
    rng = np.random.default_rng(1)
    variation = Variation(GRAMMAR, GRAMMAR.maxsize, rng)
    good = from_exprs(population(1, 8), GRAMMAR.maxsize)
    bad = from_exprs(population(1, 8), GRAMMAR.maxsize)
    bad.codes[3, 0] = 999
    a, b = (bad, good) if which == "parent" else (good, bad)
    with pytest.raises(ValueError, match=f"{which} codes outside the operator set's codes"):
        variation.children(rng, a, b, np.zeros(8, dtype=bool))


@pytest.mark.parametrize("seed", range(4))
def test_the_native_tournament_picks_the_winners_numpy_picks(seed):
    """The compiled fitness and tournaments give the rows NumPy's twin gives, with infinite
    and NaN losses among the members, ties in size, and islands of differing mixes."""
    from search.tournament_native import Tournament, tournament_rows

    rng = np.random.default_rng(seed)
    n_islands, size, n, t = 1 + seed, 64, 32, 6
    losses = rng.lognormal(-3, 2, (n_islands, size))
    losses[rng.random(losses.shape) < 0.1] = np.inf
    losses[rng.random(losses.shape) < 0.05] = np.nan
    sizes = rng.integers(1, 21, (n_islands, size))
    uniforms = rng.random((n_islands, 2 * n, t))
    expected = tournament_rows(losses, sizes, uniforms, 0.7, 20.0, 1e-4)
    rows = Tournament(0.7, 20.0, 1e-4)(losses, sizes, uniforms)
    np.testing.assert_array_equal(rows, expected)
    # parents first, island after island: each row lies in its own island
    island = np.concatenate([np.repeat(np.arange(n_islands), n)] * 2)
    np.testing.assert_array_equal(rows // size, island)
    # a member of least cost that meets itself in every entrant's place wins
    lone = np.zeros((1, 2, 3)) + 0.5
    assert Tournament(0.7, 20.0, 1e-4)(losses[:1], sizes[:1], lone).tolist() == [size // 2, size // 2]
    with pytest.raises(ValueError, match="at least one entrant"):
        Tournament(0.7, 20.0, 1e-4)(losses, sizes, uniforms[:, :, :0])
