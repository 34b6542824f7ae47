"""Seeds: exactly the range torch's CPU generator keeps apart (0 .. 2**32 - 1) is accepted, by the API and the CLI."""

from __future__ import annotations

import pytest
import torch

from doodl.cli.options import parse_seeds
from doodl.optimizer.seeds import MAX_SEED, as_seed_list


def draw(seed: int) -> torch.Tensor:
    return torch.randn(8, generator=torch.Generator().manual_seed(seed))


def test_the_largest_accepted_seed_is_the_last_distinct_one():
    # torch keeps the seed mod 2**32: one past MAX_SEED draws what seed 0 draws, so it must be refused
    assert torch.equal(draw(MAX_SEED + 1), draw(0)) and not torch.equal(draw(MAX_SEED), draw(0))
    assert as_seed_list(MAX_SEED) == [MAX_SEED] and parse_seeds(str(MAX_SEED)) == [MAX_SEED]


@pytest.mark.parametrize("seed", [2**32, 2**64, -1])
def test_out_of_range_seeds_are_refused_by_the_api_and_the_cli(seed):
    with pytest.raises(ValueError, match=r"seed .*4294967295"):
        as_seed_list(seed)
    with pytest.raises(ValueError, match=r"--seed"):
        parse_seeds(str(seed))
    with pytest.raises(ValueError, match=r"--seed .*4294967295"):
        parse_seeds(f"0,{seed}") if seed >= 0 else parse_seeds(f"{MAX_SEED - 1}-{2**32 + 3}")


@pytest.mark.parametrize("bad", [1.5, "3", None, [1, 2.0], [], True])
def test_non_integer_seeds_get_a_clear_error(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        as_seed_list(bad)


def test_run_specs_and_batch_lines_use_the_same_range():
    from doodl.batch.jobs import expand_seeds
    from doodl.runs import RunSpec

    for value in ([2**32], str(2**32), 2**32):
        with pytest.raises(ValueError, match="4294967295"):
            RunSpec(seeds=value)
        with pytest.raises(ValueError, match="4294967295"):
            expand_seeds({"seeds": value})
