import math

import pytest

from nnunet_uda.rampup import sigmoid_rampup


@pytest.mark.parametrize("current,length,expected", [
    (0, 10, math.exp(-5)), (5, 10, math.exp(-1.25)), (10, 10, 1.0), (20, 10, 1.0), (-3, 10, math.exp(-5)),
    (0, 0, 1.0), (3, -1, 1.0),
])
def test_known_values(current, length, expected):
    assert sigmoid_rampup(current, length) == pytest.approx(expected)


def test_monotonic():
    values = [sigmoid_rampup(i / 4, 10) for i in range(45)]
    assert values == sorted(values)
