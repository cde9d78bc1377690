"""Straight-line programs of ``discover approx`` used by :mod:`codegen.fastmath` (generated;
do not edit by hand: ``python -m discover.approx.fastmath_export > codegen/fastmath_programs.py``).

Each is ``(instructions, output)``; an instruction is ``(op, operands, value)`` with the
operations of :data:`codegen.ops.OPS` (``arg`` is x, ``const`` a constant), evaluated in
this order with IEEE rounding after each."""

# exp float32: chebyshev-7 horner, 18 operations; verified exhaustive on
# 4,278,190,080 inputs: max 0.893 ULP, 99.76% correctly rounded
EXP_F32_BASELINE = 'chebyshev-7 horner'
EXP_F32 = ((
    ('arg', (), 0.0),
    ('const', (), -104.0),
    ('lt', (0, 1), 0.0),
    ('select', (2, 1, 0), 0.0),
    ('const', (), 89.0),
    ('gt', (3, 4), 0.0),
    ('select', (5, 4, 3), 0.0),
    ('const', (), 1.4426950216293335),
    ('mul', (6, 7), 0.0),
    ('rint', (8,), 0.0),
    ('const', (), -0.6931471824645996),
    ('fma', (9, 10, 6), 0.0),
    ('const', (), 1.9046542121259336e-09),
    ('fma', (9, 12, 11), 0.0),
    ('const', (), 0.00019907699606847018),
    ('const', (), 0.001394869526848197),
    ('fma', (14, 13, 15), 0.0),
    ('const', (), 0.008333283476531506),
    ('fma', (16, 13, 17), 0.0),
    ('const', (), 0.041666217148303986),
    ('fma', (18, 13, 19), 0.0),
    ('const', (), 0.1666666716337204),
    ('fma', (20, 13, 21), 0.0),
    ('const', (), 0.5),
    ('fma', (22, 13, 23), 0.0),
    ('const', (), 1.0),
    ('fma', (24, 13, 25), 0.0),
    ('fma', (26, 13, 25), 0.0),
    ('ldexp', (27, 9), 0.0),
), 28)

# exp2 float32: minimax-6 horner, 15 operations; verified exhaustive on
# 4,278,190,080 inputs: max 0.948 ULP, 99.69% correctly rounded
EXP2_F32_BASELINE = 'minimax-6 horner'
EXP2_F32 = ((
    ('arg', (), 0.0),
    ('const', (), -150.040283203125),
    ('lt', (0, 1), 0.0),
    ('select', (2, 1, 0), 0.0),
    ('const', (), 128.3998565673828),
    ('gt', (3, 4), 0.0),
    ('select', (5, 4, 3), 0.0),
    ('rint', (6,), 0.0),
    ('sub', (6, 7), 0.0),
    ('const', (), 0.00015345819701906294),
    ('const', (), 0.0013399930903688073),
    ('fma', (9, 8, 10), 0.0),
    ('const', (), 0.009618489071726799),
    ('fma', (11, 8, 12), 0.0),
    ('const', (), 0.05550328642129898),
    ('fma', (13, 8, 14), 0.0),
    ('const', (), 0.24022646248340607),
    ('fma', (15, 8, 16), 0.0),
    ('const', (), 0.6931471824645996),
    ('fma', (17, 8, 18), 0.0),
    ('const', (), 1.0),
    ('fma', (19, 8, 20), 0.0),
    ('ldexp', (21, 7), 0.0),
), 22)
