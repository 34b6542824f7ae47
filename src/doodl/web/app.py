"""The Gradio page: form -> RunSpec -> JobRunner, streaming each iterate and the loss curve; Cancel; downloads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

for _k, _v in (("GRADIO_ANALYTICS_ENABLED", "False"), ("HF_HUB_DISABLE_TELEMETRY", "1"), ("DO_NOT_TRACK", "1")):
    os.environ.setdefault(_k, _v)  # no phoning home, set before gradio is imported

import torch

from ..backends.loading import known_backends
from ..io import to_pil
from ..scorers.registry import SCORERS
from .form import DEFAULT_GUIDE, DEFAULT_MODEL, METHODS, TASKS, spec_from_form
from .jobs import Busy, JobRunner, Progress
from .uploads import MAX_UPLOAD_BYTES, check_upload

TITLE = "doodl: end-to-end diffusion latent optimisation"
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]  # no Google Fonts request from the browser


def _show(image: torch.Tensor, side: int = 192):
    """A (C, H, W) image as PIL, upscaled (nearest) so the zoo's 28 px images are visible."""
    pil = to_pil(image)
    scale = max(1, side // max(pil.size))
    return pil.resize((pil.width * scale, pil.height * scale), 0) if scale > 1 else pil


def _loss_figure(losses: dict[int, list[float | None]]):
    """Matplotlib figure: loss per DOODL step, one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 2.6), dpi=90)
    for seed, curve in losses.items():
        ax.plot(range(len(curve)), [float("nan") if v is None else v for v in curve], marker="o", ms=3, label=f"seed {seed}")
    ax.set_xlabel("DOODL step")
    ax.set_ylabel("loss")
    if losses:
        ax.legend(fontsize=7)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _status(p: Progress) -> str:
    if p.error:
        return f"**Error:** {p.error}"
    if p.cancelled:
        return f"**Cancelled** at step {p.step} of {p.opt_steps}."
    if p.record is not None:
        losses = ", ".join(f"seed {o.seed}: {o.loss:.4f}" for o in p.record.outputs if o.loss is not None)
        return f"**Done** in {p.record.seconds:.1f} s. Final loss {losses}."
    return f"**Running**: seed {','.join(map(str, p.seeds))}, step {p.step} of {p.opt_steps}."


def _files(p: Progress) -> list[str]:
    return [str(f) for f in p.record.paths] if p.record is not None else []


def _guide_help() -> str:
    rows = "\n".join(f"- `{e.name}`: {e.summary} (options: {', '.join(e.options) or 'none'})" for e in SCORERS.values())
    return ("One guide per line, `NAME[:WEIGHT][,KEY=VALUE...]`; several lines are summed with their weights.\n\n"
            + rows)


def build_app(runner: JobRunner | None = None, model: str = DEFAULT_MODEL, device: str = "auto"):
    """The gr.Blocks page; `runner` runs the jobs (one at a time), files live under runner.root."""
    import gradio as gr

    runner = runner or JobRunner()
    uploads = runner.root / "uploads"

    def start(task, model_id, prompt, guides, method, seeds, steps, updates, lr, image, references, classifier,
              class_index) -> Iterator[tuple[Any, ...]]:
        try:
            img = str(check_upload(image, uploads, "image to edit")) if image and task == "edit" else None
            refs = [str(check_upload(r, uploads, "reference image")) for r in (references or [])] if task == "personalize" else []
            spec = spec_from_form(task, model_id, prompt, guides, method, seeds, steps, updates, lr, img, refs,
                                  classifier, class_index, device=device)
            for p in runner.run(spec):
                gallery = [(_show(im), f"seed {s}, step {st}") for s, st, im in p.frames]
                current = _show(p.images[0]) if p.images is not None else None
                yield (_status(p), current, gallery, _loss_figure(p.losses), _files(p),
                       p.record.heldout if p.record is not None else {})
        except (Busy, ValueError, FileNotFoundError, OSError) as e:
            yield f"**Error:** {e}", None, [], None, [], {}

    def cancel() -> str:
        return "Cancelling..." if runner.cancel() else "No run in progress."

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nPick an application, a model and guides; DOODL's iterates and loss appear live.")
        with gr.Row():
            with gr.Column(scale=1):
                task = gr.Radio(list(TASKS), value="generate", label="Application", elem_id="task")
                model_box = gr.Dropdown(known_backends(), value=model, allow_custom_value=True,
                                        label="Model (zoo name, hub id or folder)", elem_id="model")
                prompt = gr.Textbox(label="Prompt (Stable Diffusion; zoo models take none)", elem_id="prompt")
                guides = gr.Textbox(DEFAULT_GUIDE if model == DEFAULT_MODEL else "", lines=3, label="Guides",
                                    elem_id="guides")
                with gr.Accordion("Guides and rewards", open=False):
                    gr.Markdown(_guide_help())
                method = gr.Radio(list(METHODS), value="DOODL", label="Method", elem_id="method")
                with gr.Row():
                    seeds = gr.Textbox("0", label="Seeds (0-3, 5)", elem_id="seeds")
                    steps = gr.Number(50, precision=0, minimum=1, label="Sampler steps (EDICT needs ~50)", elem_id="steps")
                    updates = gr.Number(5, precision=0, minimum=0, label="DOODL updates", elem_id="updates")
                    lr = gr.Number(None, minimum=0, label="Learning rate (blank: paper's)", elem_id="lr")
                with gr.Accordion("Editing, personalization, classifier guidance", open=False):
                    image = gr.File(label="Image to edit", file_types=["image"], type="filepath", elem_id="edit-image")
                    refs = gr.File(label="Reference images", file_types=["image"], file_count="multiple",
                                   type="filepath", elem_id="references")
                    with gr.Row():
                        classifier = gr.Textbox("fashion-guide", label="Classifier", elem_id="classifier")
                        class_index = gr.Number(7, precision=0, minimum=0, label="Class", elem_id="class")
                with gr.Row():
                    run_btn = gr.Button("Run", variant="primary", elem_id="run")
                    cancel_btn = gr.Button("Cancel", variant="stop", elem_id="cancel")
            with gr.Column(scale=1):
                status = gr.Markdown("Ready.", elem_id="status")
                current = gr.Image(label="Current iterate", type="pil", interactive=False, elem_id="current", height=220)
                gallery = gr.Gallery(label="Iterates", columns=8, height=200, elem_id="iterates")
                plot = gr.Plot(label="Loss", elem_id="loss")
                files = gr.File(label="Results (PNG with metadata, run.json, GIF)", file_count="multiple",
                                interactive=False, elem_id="files")
                heldout = gr.JSON(label="Held-out rewards (not optimised), before and after", elem_id="heldout")
        run_btn.click(start, [task, model_box, prompt, guides, method, seeds, steps, updates, lr, image, refs,
                              classifier, class_index], [status, current, gallery, plot, files, heldout],
                      concurrency_limit=1, api_name="run")  # clicks from other tabs wait in the queue
        cancel_btn.click(cancel, None, status, queue=False, api_name="cancel")
    demo.queue(default_concurrency_limit=1, max_size=16)
    demo.doodl_runner = runner  # type: ignore[attr-defined]
    return demo


def launch(demo, host: str = "127.0.0.1", port: int = 7860, block: bool = True):
    """Serve the page on host:port (loopback by default), uploads capped at MAX_UPLOAD_BYTES."""
    import gradio as gr

    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=["ui-monospace", "monospace"])
    root = demo.doodl_runner.root
    return demo.launch(server_name=host, server_port=port, share=False, theme=theme, max_file_size=MAX_UPLOAD_BYTES,
                       allowed_paths=[str(root)], prevent_thread_lock=not block, quiet=not block, show_error=True,
                       ssr_mode=False, footer_links=["api"])


def temp_root() -> Path:
    """The folder for uploads and results: $GRADIO_TEMP_DIR's doodl folder (Gradio's uploads land there too)."""
    import tempfile

    base = Path(os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="doodl-web-")))
    return base / "doodl"
