"""The evaluation: one parametrized case per benchmark item (``evalsuite run --model PATH``).

Not named ``test_*.py`` on purpose: pytest must collect it only when asked (``--pyargs
evalsuite.suite.itemtest``, or through ``tests/benchmarks/test_eval.py`` in a checkout), never by
walking the package.
"""

from evalsuite.testing import check_item


def test_item(evaluation, request):
    check_item(evaluation, request)
