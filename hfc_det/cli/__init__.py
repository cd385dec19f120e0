"""What the command-line tools need before torch loads: detectron2's launch options
(:mod:`.options`, a copy of ``default_argument_parser`` that parses without detectron2), the
config names, and the one error-exit convention and argument helpers (:mod:`.helpers`).
Standard library only, so ``--help`` and argument errors answer at once.
"""
