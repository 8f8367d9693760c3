"""The evaluation: one parametrized case per benchmark item (``pytest --model PATH``).

The test itself ships with the package (``evalsuite run`` collects it there); importing it here
lets pytest collect the same function from the project's test tree.
"""

from evalsuite.suite.itemtest import test_item

__all__ = ["test_item"]
