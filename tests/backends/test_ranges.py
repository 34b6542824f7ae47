"""restoring_clamp: clamped values, the loss's gradient inside the range and a restoring one beyond it (issue 15)."""

import pytest
import torch
from diffusers import UNet2DModel

from doodl.backends.pixel import PixelBackend
from doodl.backends.ranges import restoring_clamp
from doodl.schedules import make_alphas_cumprod


def test_values_equal_a_clamp_and_inside_gradient_is_the_losss():
    x = torch.tensor([-0.5, 0.0, 0.3, 1.0, 1.25], requires_grad=True)
    y = restoring_clamp(x, pull=2.0)
    assert torch.equal(y, x.detach().clamp(0, 1))
    (y * torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
    # inside (bounds included) the loss's own gradient; beyond: pull * (x - bound), pointing back into range
    assert torch.allclose(x.grad, torch.tensor([2.0 * -0.5, 2.0, 3.0, 4.0, 2.0 * 0.25]))


def test_descent_moves_overshoot_back_while_a_plain_clamp_does_not():
    x = torch.tensor([1.5, -0.4], requires_grad=True)
    restoring_clamp(x, pull=1.0).sum().backward()
    assert x.grad[0] > 0 and x.grad[1] < 0  # x - lr * grad moves both toward [0, 1]
    z = torch.tensor([1.5, -0.4], requires_grad=True)
    restoring_clamp(z, pull=0.0).sum().backward()
    assert torch.equal(z.grad, torch.zeros(2))  # pull 0 is torch's clamp: dead gradient outside


def test_matches_autograd_of_loss_plus_penalty():
    torch.manual_seed(0)
    x = (torch.randn(50) * 1.5).requires_grad_(True)
    w = torch.randn(50)
    (restoring_clamp(x, pull=3.0) * w).sum().backward()
    ref_x = x.detach().clone().requires_grad_(True)
    b = ref_x.clamp(0, 1)
    penalty = 1.5 * ((ref_x - ref_x.detach().clamp(0, 1)) ** 2).sum()
    (b * w + 0).sum().add(penalty).backward()
    assert torch.allclose(x.grad, ref_x.grad)


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan"), True, "3"])
def test_bad_pull_names_it(bad):
    with pytest.raises(ValueError, match="pull"):
        restoring_clamp(torch.zeros(2, requires_grad=True), pull=bad)


def test_pixel_backend_decode_takes_range_pull():
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 8), layers_per_block=1,
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                       norm_num_groups=4)
    b = PixelBackend(unet, make_alphas_cumprod("linear"))
    x = torch.full((1, 1, 8, 8), 1.5, requires_grad=True)  # model space: 1.5 is past white
    b.decode(x, range_pull=1.0).sum().backward()
    assert (x.grad > 0).all()  # restoring: descent darkens it
    x.grad = None
    b.decode(x).sum().backward()
    assert (x.grad == 0).all()  # the default is the paper's plain clamp
    with pytest.raises(ValueError, match="pull"):
        b.decode(x, range_pull=-1.0)


def test_doodl_passes_its_pull_and_one_step_guidance_does_not(toy_backend, monkeypatch):
    from doodl.optimizer import DoodlConfig, optimize, sample
    from doodl.optimizer.defaults import defaults_for

    assert defaults_for(toy_backend).range_pull == 0.0  # opt-in: its size depends on the loss (BENCHMARKS.md §5.4b)
    seen = []
    real = type(toy_backend).decode
    monkeypatch.setattr(type(toy_backend), "decode",
                        lambda self, z, range_pull=0.0: seen.append(range_pull) or real(self, z, range_pull=range_pull))
    loss = lambda im: im.flatten(1).mean(1)
    optimize(toy_backend, loss, seed=0, num_inference_steps=3, opt_steps=1, progress=False, range_pull=2.0)
    assert seen and set(seen) == {2.0}
    seen.clear()
    optimize(toy_backend, loss, seed=0, num_inference_steps=3, opt_steps=1, progress=False,
             config=DoodlConfig(mix=0.8))  # a config given as is: its own range_pull, the paper's 0
    assert set(seen) == {0.0}
    seen.clear()
    sample(toy_backend, seed=0, num_inference_steps=3, method="one_step", loss=loss, scale=1.0)
    assert seen and set(seen) == {0.0}


def test_bad_range_pull_in_config_names_it():
    from doodl.optimizer import DoodlConfig

    with pytest.raises(ValueError, match="range_pull"):
        DoodlConfig(range_pull=-0.5)
