"""The scorer contract: image checks, user callables, weighted sums, the brightness demo scorer."""

from __future__ import annotations

import math

import pytest
import torch

from doodl.scorers import Brightness, UserScorer, WeightedSum, as_scorer, check_images, weighted_sum


@pytest.mark.parametrize(
    "images, match",
    [
        (torch.rand(3, 8, 8), "4 dimensions"),
        (torch.rand(1, 2, 3, 8, 8), "4 dimensions"),
        (torch.zeros(0, 3, 8, 8), "non-empty"),
        (torch.randint(0, 255, (1, 3, 8, 8)), "floating"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_check_images_rejects_bad_input(images, match):
    with pytest.raises(ValueError, match=f"images.*{match}|{match}.*images"):
        check_images(images)


def test_check_images_channel_count_names_images():
    assert check_images(torch.rand(2, 3, 4, 4), channels=(1, 3)).shape == (2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"images must have 1 or 3 channels, got 4"):
        check_images(torch.rand(2, 4, 4, 4), channels=(1, 3))


def test_user_callable_checked_and_passed_through():
    fn = lambda x: x.flatten(1).sum(1)  # noqa: E731
    s = as_scorer(fn, name="total")
    x = torch.rand(3, 1, 4, 4)
    assert torch.equal(s(x), fn(x))
    assert as_scorer(s) is s


@pytest.mark.parametrize("bad", [lambda x: x.sum(), lambda x: x.flatten(1), lambda x: x.flatten(1).sum(1)[:1], lambda x: 1.0])
def test_user_loss_of_wrong_shape_is_a_clear_error(bad):
    s = as_scorer(bad, name="mine")
    with pytest.raises(ValueError, match=r"scorer 'mine' must return a tensor of shape \(2,\)"):
        s(torch.rand(2, 3, 4, 4))


def test_user_scorer_rejects_bad_images_and_non_callables():
    with pytest.raises(ValueError, match="images"):
        UserScorer(lambda x: x.mean((1, 2, 3)))(torch.rand(3, 4, 4))
    with pytest.raises(ValueError, match="callable"):
        UserScorer(3)  # type: ignore[arg-type]


def test_weighted_sum_is_the_weighted_sum_and_skips_zero_weights():
    calls = []

    def never(x):
        calls.append(1)
        return x.mean((1, 2, 3))

    a, b = Brightness(True), Brightness(False)
    x = torch.rand(4, 3, 5, 5, dtype=torch.float64)
    s = weighted_sum((a, 0.5), (b, 2.0), (never, 0.0))
    torch.testing.assert_close(s(x), 0.5 * a(x) + 2.0 * b(x))
    assert calls == []
    assert s(x).dtype == torch.float64


@pytest.mark.parametrize("w", [-1.0, math.nan, math.inf, "1", True])
def test_weighted_sum_rejects_bad_weights(w):
    with pytest.raises(ValueError, match="weight"):
        WeightedSum([(Brightness(), w)])


def test_weighted_sum_rejects_empty_and_all_zero():
    with pytest.raises(ValueError, match="at least one"):
        WeightedSum([])
    with pytest.raises(ValueError, match="not all be zero"):
        weighted_sum((Brightness(), 0.0))
    with pytest.raises(ValueError, match="pair"):
        WeightedSum([Brightness()])  # type: ignore[list-item]


def test_brightness_direction_and_range():
    dark, light = torch.full((1, 3, 4, 4), 0.1), torch.full((1, 3, 4, 4), 0.9)
    up, down = Brightness(maximize=True), Brightness(maximize=False)
    assert up(light) < up(dark) and down(dark) < down(light)
    x = torch.rand(2, 1, 6, 6, requires_grad=True)
    up(x).sum().backward()
    assert torch.all(x.grad < 0)  # brightening lowers the loss
    with pytest.raises(ValueError, match="maximize"):
        Brightness(maximize="yes")  # type: ignore[arg-type]
