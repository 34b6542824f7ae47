"""The summary: CLIP score per job from the saved PNGs with an injected embedder, zoo target accuracy and
FMNIST-FID per group with an injected evaluation classifier, the Markdown table and atomic files."""

from __future__ import annotations

import json

import pytest
import torch
from fake_executor import FakeExecutor
from torch import nn

from doodl.batch import Job, ManifestRecord, job_dir, parse_jobs, read_manifest, render_markdown, run_batch, summarize, write_summary
from doodl.io import load_image, save_png
from doodl.zoo.fid import fmnist_fid


class MeanColourClip:
    """A stand-in CLIP: the image embedding is the mean colour, every prompt embeds as pure red."""

    def embed_images(self, images):
        return images.mean(dim=(2, 3))

    def embed_text(self, prompts):
        return torch.tensor([[1.0, 0.0, 0.0]] * len(prompts))


class BrightnessClassifier(nn.Module):
    """Predicts class round(9 * mean brightness); features are a few moments of the pixels."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def features(self, x):
        flat = x.flatten(1)
        return torch.stack([flat.mean(1), flat.std(1), flat.max(1).values], 1) + self.dummy

    def forward(self, x):
        m = x.flatten(1).mean(1, keepdim=True) * 9
        return -(m - torch.arange(10.0)) ** 2 + self.dummy


def test_clip_score_per_job_and_group_from_the_saved_images(tmp_path):
    jobs = parse_jobs([json.dumps({"prompt": "p", "seeds": "0-2", "category": "c"}),
                       json.dumps({"prompt": "q", "fail": "x", "category": "c"})], FakeExecutor()).jobs
    run_batch(jobs, tmp_path, FakeExecutor(), progress=False)
    s = summarize(jobs, read_manifest(tmp_path), tmp_path, clip=MeanColourClip(), clip_model="mean-colour")
    by_hand = {}
    for j in jobs[:3]:
        rgb = load_image(job_dir(tmp_path, j.id) / f"seed-{j.spec['seeds'][0]}.png").mean(dim=(0, 2, 3)).double()
        by_hand[j.id] = 100 * max(float(rgb[0] / rgb.norm()), 0.0)
    rows = {r.id: r for r in s.jobs}
    for jid, value in by_hand.items():
        assert rows[jid].clip_score == pytest.approx(value, rel=1e-5)
    assert rows[jobs[3].id].clip_score is None and rows[jobs[3].id].status == "failed"
    (group,) = s.groups
    assert group.clip_score == pytest.approx(sum(by_hand.values()) / 3, rel=1e-5)
    assert (group.jobs, group.done, group.failed) == (4, 3, 1)
    assert group.loss == pytest.approx((0 + 1 + 2) / 3)  # the fake's loss is its seed


def _zoo_job(tmp_path, category, method, target, brightness, seed):
    spec = {"model": "fashion", "class_index": target, "method": method, "seeds": [seed], "prompt": ""}
    job = Job(f"{category}{method}{seed}".ljust(16, "0")[:16], spec, category)
    save_png(job_dir(tmp_path, job.id) / f"seed-{seed}.png", torch.full((1, 28, 28), brightness))
    (job_dir(tmp_path, job.id) / "job.json").write_text("{}")  # a committed job's folder
    return job


def test_zoo_target_accuracy_and_fmnist_fid_per_group(tmp_path):
    jobs = [_zoo_job(tmp_path, "shirt", "doodl", 0, 0.0, 0), _zoo_job(tmp_path, "shirt", "doodl", 0, 1.0, 1),
            _zoo_job(tmp_path, "bag", "vanilla", 5, 5 / 9, 0)]
    records = {j.id: ManifestRecord(j.id, "done") for j in jobs}
    model = BrightnessClassifier()
    g = torch.Generator().manual_seed(0)
    reference = lambda classes: torch.rand(20, 1, 28, 28, generator=g)  # noqa: E731
    s = summarize(jobs, records, tmp_path, eval_model=model, reference=reference)
    assert [r.target_hit for r in s.jobs] == [True, False, True]
    groups = {(x.category, x.method): x for x in s.groups}
    assert groups[("shirt", "doodl")].target_accuracy == 0.5 and groups[("bag", "vanilla")].target_accuracy == 1.0
    assert groups[("bag", "vanilla")].fmnist_fid is None  # one image: no covariance
    g.manual_seed(0)
    images = torch.cat([load_image(job_dir(tmp_path, j.id) / f"seed-{j.spec['seeds'][0]}.png", channels=1) for j in jobs[:2]])
    assert groups[("shirt", "doodl")].fmnist_fid == pytest.approx(fmnist_fid(images, reference([0]), model))
    assert s.jobs[0].clip_score is None  # no CLIP given


def test_markdown_and_files(tmp_path):
    jobs = parse_jobs([json.dumps({"prompt": "a|b", "category": "x|y"}), json.dumps({"prompt": "c"})], FakeExecutor()).jobs
    records = {jobs[0].id: ManifestRecord(jobs[0].id, "done", 2.0, {"loss": float("nan")})}
    job_dir(tmp_path, jobs[0].id).mkdir(parents=True)
    (job_dir(tmp_path, jobs[0].id) / "job.json").write_text("{}")
    s = summarize(jobs, records, tmp_path)
    assert s.totals() == {"jobs": 2, "done": 1, "failed": 0, "pending": 1}
    md = render_markdown(s)
    assert "| category | method | jobs |" in md and "| x\\|y | doodl | 1 | 1 | 0 |" in md and "1 pending" in md
    js, mdp = write_summary(s, tmp_path)
    data = json.loads(js.read_text())
    assert data["jobs"][0]["loss"] is None and data["jobs"][0]["seconds"] == 2.0 and data["jobs"][1]["status"] == "pending"
    assert mdp.read_text() == md
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs", "summary.json", "summary.md"]
