"""doodl.optimize (DOODL Algorithm 1), the baselines and real-image editing on small pixel-space models."""

from __future__ import annotations

import pytest
import torch

import doodl


def brightness(images: torch.Tensor) -> torch.Tensor:
    return images.mean(dim=(1, 2, 3))


def test_user_loss_halves_within_20_steps(toy_backend):
    r = doodl.optimize(toy_backend, brightness, seed=[0, 1, 2], num_inference_steps=8, opt_steps=20,
                       optimizer="adam", lr=0.2, progress=False)
    first = r.history[0].loss
    assert len(r.history) == 21 and r.history[-1].step == 20
    assert (r.loss <= 0.5 * first).all(), (first, r.loss)
    assert r.images.min() >= 0 and r.images.max() <= 1 and r.images.isfinite().all()
    assert r.images.shape == (3, 1, 8, 8) and r.latents.shape == (3, 1, 12, 12)


def test_paper_momentum_lowers_loss_and_keeps_norm(toy_backend):
    r = doodl.optimize(toy_backend, brightness, seed=0, num_inference_steps=6, opt_steps=10, lr=100.0,
                       grad_clip=0.05, progress=False)
    assert r.loss[0] < r.history[0].loss[0] - 0.02
    x0 = doodl.optimizer.seeds.initial_latents(toy_backend, [0], torch.float64)  # float64: the default coupling
    assert torch.allclose(r.latents.flatten(1).norm(dim=1), x0.flatten(1).norm(dim=1), rtol=1e-5)


def test_best_iterate_is_returned(toy_backend):
    # Maximise brightness with a huge noise perturbation: whatever the path, the best loss over history is returned.
    r = doodl.optimize(toy_backend, lambda im: -brightness(im), seed=[3, 4], num_inference_steps=5, opt_steps=6,
                       perturb_std=0.5, select="best", progress=False)
    hist = torch.stack([h.loss for h in r.history])
    torch.testing.assert_close(r.loss, hist.min(dim=0).values)
    for b in range(2):
        assert hist[r.best_step[b], b] == r.loss[b]


def test_seed_batch_equals_single_runs(toy_backend):
    kw = dict(num_inference_steps=5, opt_steps=3, progress=False, grad_clip=0.01, lr=10.0)
    both = doodl.optimize(toy_backend, brightness, seed=[5, 6], **kw)
    one = doodl.optimize(toy_backend, brightness, seed=6, **kw)
    torch.testing.assert_close(both.images[1:], one.images, atol=1e-4, rtol=0)
    assert not torch.allclose(both.images[0], both.images[1])


def test_same_seed_is_reproducible(toy_backend):
    kw = dict(seed=7, num_inference_steps=4, opt_steps=3, progress=False)
    a, b = doodl.optimize(toy_backend, brightness, **kw), doodl.optimize(toy_backend, brightness, **kw)
    assert torch.equal(a.images, b.images)


def test_nonfinite_loss_is_guarded(toy_backend):
    calls = {"n": 0}

    def flaky(images):
        calls["n"] += 1
        out = brightness(images)
        if calls["n"] in (3, 4):  # the second evaluation (x0 and y0 of step 1) is NaN for image 0
            out = out.clone()
            out[0] = float("nan")
        return out

    r = doodl.optimize(toy_backend, flaky, seed=[0, 1], num_inference_steps=4, opt_steps=4, lr=10.0, progress=False)
    assert r.history[1].skipped.tolist() == [True, False]
    assert r.history[2].lr[0] == pytest.approx(5.0) and r.history[2].lr[1] == pytest.approx(10.0)
    assert r.images.isfinite().all() and r.loss.isfinite().all()


def test_callback_and_early_stop(toy_backend):
    seen = []
    r = doodl.optimize(toy_backend, brightness, seed=0, num_inference_steps=4, opt_steps=10, target_loss=10.0,
                       callback=lambda info: seen.append(info["step"]), progress=False)
    assert seen == [0] and len(r.history) == 1  # target met by the first evaluation


def test_gradient_modes_give_same_first_update(toy_backend):
    kw = dict(seed=1, num_inference_steps=5, opt_steps=1, progress=False, perturb_std=0.0, grad_clip=1.0, lr=1.0)
    ref = doodl.optimize(toy_backend, brightness, grad_mode="naive", **kw)
    for mode in ("reversible", "checkpoint"):
        r = doodl.optimize(toy_backend, brightness, grad_mode=mode, **kw)
        torch.testing.assert_close(r.history[1].loss, ref.history[1].loss, atol=1e-5, rtol=0)


@pytest.mark.parametrize("bad, match", [
    (dict(lr=-1.0), "lr must be a positive"),
    (dict(momentum=1.0), "momentum"),
    (dict(mix=0.0), "mix"),
    (dict(grad_mode="fast"), "grad_mode"),
    (dict(optimizer="sgd"), "optimizer"),
    (dict(seed=[]), "seed"),
    (dict(seed=-1), "seed"),
    (dict(opt_steps=-2), "opt_steps"),
    (dict(class_label=3), "unconditional"),
    (dict(colour="red"), "unknown"),
])
def test_bad_options(toy_backend, bad, match):
    kw = dict(seed=0, num_inference_steps=3, opt_steps=1, progress=False)
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        doodl.optimize(toy_backend, brightness, **kw)


@pytest.mark.parametrize("loss, match", [
    (lambda im: im.mean(), r"shape \(1,\)"),
    (lambda im: im.mean(dim=(2, 3)).repeat(1, 2), r"shape \(1,\)"),
])
def test_loss_of_wrong_shape(toy_backend, loss, match):
    with pytest.raises(ValueError, match=match):
        doodl.optimize(toy_backend, loss, seed=0, num_inference_steps=3, opt_steps=1, progress=False)


def test_baselines(toy_backend):
    v = doodl.sample(toy_backend, seed=[0, 1], num_inference_steps=6)
    g = doodl.sample(toy_backend, seed=[0, 1], num_inference_steps=6, method="one_step", loss=brightness, scale=20.0)
    assert v.images.shape == g.images.shape == (2, 1, 8, 8)
    assert (brightness(g.images) < brightness(v.images) - 0.01).all()
    z = doodl.sample(toy_backend, seed=[0, 1], num_inference_steps=6, method="one_step", loss=brightness, scale=0.0)
    torch.testing.assert_close(z.images, v.images)
    with pytest.raises(ValueError, match="needs a loss"):
        doodl.sample(toy_backend, method="one_step")
    with pytest.raises(ValueError, match="method"):
        doodl.sample(toy_backend, method="doodl")  # type: ignore[arg-type]


def test_edit_real_image_round_trip_and_optimise(toy_backend):
    img = torch.linspace(0.2, 0.8, 64).reshape(1, 1, 8, 8)
    inv = doodl.invert_image(toy_backend, img, num_inference_steps=10, invert_to=6)
    assert len(inv.steps) == 6 and inv.steps == toy_backend.steps(10)[4:]  # the chain's tail, indices kept
    # zero optimisation steps: the inverted pair regenerates the image
    r = doodl.optimize(toy_backend, brightness, seed=0, init=(inv.x, inv.y), steps=inv.steps,
                       opt_steps=0, progress=False, coupling_dtype=torch.float64)
    torch.testing.assert_close(r.images.float(), img, atol=1e-5, rtol=0)
    r = doodl.optimize(toy_backend, brightness, seed=0, init=(inv.x, inv.y), steps=inv.steps,
                       opt_steps=5, lr=20.0, grad_clip=0.05, progress=False)
    assert r.loss[0] < brightness(img)[0] - 0.01
    with pytest.raises(ValueError, match="invert_to"):
        doodl.invert_image(toy_backend, img, num_inference_steps=10, invert_to=11)
    with pytest.raises(ValueError, match="images must have shape"):
        doodl.invert_image(toy_backend, torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("bad, match", [
    (dict(lr=float("inf")), "lr must be a positive finite"),
    (dict(grad_clip=float("inf")), "grad_clip must be a positive finite"),
    (dict(momentum="abc"), "momentum must be a finite number"),
    (dict(mix=float("nan")), "mix must be a finite number"),
    (dict(perturb_std=float("inf")), "perturb_std"),
    (dict(target_loss="low"), "target_loss"),
    (dict(select="yes"), "select"),
    (dict(adam_betas=(0.9, 1.5)), "adam_betas"),
])
def test_config_values_of_the_wrong_type_or_not_finite_name_the_field(bad, match):
    with pytest.raises(ValueError, match=match):
        doodl.DoodlConfig(**bad)


@pytest.mark.parametrize("make", [
    lambda: torch.zeros(1, 1, 6, 6),  # wrong spatial size (the latents are 12x12)
    lambda: torch.zeros(1, 3, 12, 12),  # wrong channels
    lambda: torch.zeros(1, 12, 12),  # 3-D
    lambda: torch.zeros(2, 1, 12, 12),  # two latents for one seed
])
def test_init_of_the_wrong_shape_names_the_expected_shape(toy_backend, make):
    x = make()
    with pytest.raises(ValueError, match=r"init x_T must have shape \(1, 1, 12, 12\)"):
        doodl.optimize(toy_backend, brightness, seed=0, init=(x, x.clone()), num_inference_steps=3, opt_steps=1,
                       progress=False)
    with pytest.raises(ValueError, match="pair"):
        doodl.optimize(toy_backend, brightness, seed=0, init=torch.zeros(1, 1, 12, 12), num_inference_steps=3,
                       opt_steps=1, progress=False)


def test_a_loss_without_a_gradient_path_is_named(toy_backend):
    detached = lambda im: brightness(im).detach()  # noqa: E731
    with pytest.raises(ValueError, match="the loss returned a loss with no gradient path"):
        doodl.optimize(toy_backend, detached, seed=0, num_inference_steps=3, opt_steps=1, progress=False)
    with pytest.raises(ValueError, match="no gradient path"):
        doodl.sample(toy_backend, seed=0, num_inference_steps=3, method="one_step", loss=detached)
    named = doodl.scorers.WeightedSum([(detached, 1.0)], names=["classifier 'mine'"])
    with pytest.raises(ValueError, match="scorer classifier 'mine' returned a loss with no gradient path"):
        doodl.optimize(toy_backend, named, seed=0, num_inference_steps=3, opt_steps=1, progress=False)
    r = doodl.optimize(toy_backend, detached, seed=0, num_inference_steps=3, opt_steps=0, progress=False)
    assert r.loss.isfinite().all()  # no update: no gradient needed
