"""batched_cfg: one batched call equals the two-call CFG formula; batch-1 contexts broadcast; other batches refused."""

from __future__ import annotations

import pytest
import torch

from doodl.guidance.cfg import batched_cfg, cfg


def net(calls):
    def run(x, t, ctx):
        calls.append(x.shape[0])
        return torch.tanh(x * ctx["scale"][:, None] + ctx["shift"][:, None] + 0.001 * float(t))

    return run


def ctx(scale, shift):
    return {"scale": torch.tensor(scale, dtype=torch.float64), "shift": torch.tensor(shift, dtype=torch.float64)}


@pytest.mark.parametrize("w", [0.0, 1.0, 3.5])
def test_batched_equals_two_calls(w):
    x = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    c, u = ctx([1.0, 2.0, 0.5], [0.1, 0.2, 0.3]), ctx([0.3], [-0.2])  # uncond: one context for the batch
    calls = []
    got = batched_cfg(net(calls), c, u, w)(x, 7)
    plain = net([])
    ref = cfg(lambda x, t: plain(x, t, c), lambda x, t: plain(x, t, {k: v.expand(3) for k, v in u.items()}), w)(x, 7)
    torch.testing.assert_close(got, ref)
    assert calls == ([3] if w == 1.0 else [6])  # scale 1: the conditional branch only; else one batched call


def test_bad_context_batch_is_named():
    x = torch.zeros(2, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="prompt has 3 entries"):
        batched_cfg(net([]), ctx([1.0, 2.0, 3.0], [0.0, 0.0, 0.0]), None, 1.0, cond_name="prompt")(x, 1)
    with pytest.raises(ValueError, match="guidance scale"):
        batched_cfg(net([]), ctx([1.0], [0.0]), None, float("nan"))
