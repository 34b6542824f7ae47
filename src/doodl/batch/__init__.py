"""Batch runs at scale: many prompts x seeds x methods, sharded over torchrun / accelerate ranks, resumable.

Jobs come from a JSONL file or DrawBench (DOODL §5.1); each job is claimed (a per-job flock), run, and its folder
committed atomically with a manifest line, so a killed run loses only the jobs in flight, a rerun skips finished
work, and several workers can share one output folder.
"""

from .claims import Claim, claim_owner, try_claim
from .dist import World, init_world, shard
from .drawbench import PAPER_CATEGORIES, DrawBenchPrompt, categories, drawbench_prompts, load_drawbench, select_categories
from .executor import Executor, JobOutput, RunExecutor, load_executor
from .jobs import METHODS, Job, JobList, canonical_json, drawbench_jobs, expand_seeds, job_id, parse_jobs, read_jobs
from .manifest import ManifestRecord, ManifestWriter, manifest_path, read_manifest
from .runner import BatchResult, is_done, job_dir, pending, remove_leftovers, run_batch, run_job
from .summary import GroupRow, JobRow, Summary, fashion_reference, render_markdown, summarize, write_summary

__all__ = [
    "Claim", "claim_owner", "try_claim",
    "World", "init_world", "shard",
    "PAPER_CATEGORIES", "DrawBenchPrompt", "categories", "drawbench_prompts", "load_drawbench", "select_categories",
    "Executor", "JobOutput", "RunExecutor", "load_executor",
    "METHODS", "Job", "JobList", "canonical_json", "drawbench_jobs", "expand_seeds", "job_id", "parse_jobs", "read_jobs",
    "ManifestRecord", "ManifestWriter", "manifest_path", "read_manifest",
    "BatchResult", "is_done", "job_dir", "pending", "remove_leftovers", "run_batch", "run_job",
    "GroupRow", "JobRow", "Summary", "fashion_reference", "render_markdown", "summarize", "write_summary",
]
