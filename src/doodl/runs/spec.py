"""RunSpec: one run of a DOODL application (§5.1-5.4) described completely, JSON-safe for run.json and batch jobs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Mapping

from .checks import check_classifier_spec, check_integer, check_number, parse_class, parse_guide_entry, parse_seed_list
from .defaults import (
    CLASSIFIER_CLASSES,
    COUPLING_DTYPES,
    DEFAULT_CLASSIFIER,
    DEFAULT_MODEL,
    DTYPES,
    GRAD_MODES,
    METHODS,
    TASK_DEFAULTS,
    TASKS,
    TaskDefaults,
)

if TYPE_CHECKING:
    from ..specs import GuideSpec

_RESERVED_OPTIONS = ("lr", "grad_mode", "coupling_dtype")  # own fields, or not JSON-safe


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines a run's outputs; None means the task's paper default (see TASK_DEFAULTS).

    Lists are stored as tuples; guides as GuideSpec (strings and dicts are parsed). Names match the CLI options.
    """

    task: str = "generate"  # generate (§5.1), personalize (§5.4), edit (§5.3), classify-guide (§5.2)
    model: str = DEFAULT_MODEL  # hub id, save_pretrained folder or zoo short name ('fashion')
    prompt: str = ""  # text conditioning of Stable Diffusion (ignored by zoo models)
    negative_prompt: str | None = None  # CFG's unconditional branch; None: the empty prompt
    guides: tuple["GuideSpec", ...] = ()  # --guide terms; empty: the task's own guide (see resolved_guides)
    method: str = "doodl"  # doodl (Alg. 1), one_step (classifier guidance on x0_hat, §3.2.1) or vanilla
    seeds: tuple[int, ...] = (0,)  # one output per seed
    steps: int = 50  # T, sampler steps (§4: 50)
    opt_steps: int | None = None  # m, DOODL updates; None: task default
    lr: float | None = None  # lambda, DOODL's learning rate; None: task default
    guidance_scale: float | None = None  # classifier-free guidance scale; None: task default
    one_step_scale: float | None = None  # one-step baseline's guidance scale; None: task default
    image: str | None = None  # edit: the image to invert and optimise
    references: tuple[str, ...] = ()  # personalize: reference images
    target: float | None = None  # edit: aesthetic rating A to move toward (§5.3: 10 or 1); None: 10
    invert_to: int | None = None  # edit: how many of the T steps to undo; None: T for DOODL (§5.3), T/2 baselines
    classifier: str | None = None  # classify-guide: efficientnet-lite0, zoo name, TorchScript file or module:callable
    class_index: int | None = None  # classify-guide: target class
    clip_models: tuple[str, ...] = ()  # CLIP(s) for clip-text / clip-image / aesthetic guides; empty: each guide's default
    clip_weights: tuple[float, ...] = ()  # ensemble weights, one per clip_models entry (§5.4: 0.5, 0.25, 0.25)
    dtype: str = "float32"  # network dtype; float16 halves memory on GPU
    device: str = "auto"  # auto: cuda when available, else cpu
    coupling_dtype: str = "auto"  # EDICT's coupling arithmetic; auto: float64 (exact) where the device has it
    grad_mode: str = "reversible"  # reversible: memory constant in T (§4); checkpoint; naive
    crops: int = 16  # multi-crop augmentations per image (§4: 16); 0 = none
    height: int | None = None  # image size (Stable Diffusion only); None: the model's
    width: int | None = None
    batch_size: int = 1  # seeds optimised together; more is faster on a big GPU, 1 keeps memory lowest
    low_memory: bool = False  # Stable Diffusion: VAE slicing and UNet gradient checkpointing
    max_iterates: int = 8  # frames kept for the iterates strip and GIF (bounds memory)
    doodl_options: dict[str, Any] = field(default_factory=dict)  # other DoodlConfig fields (momentum, mix, ...)

    def __post_init__(self) -> None:
        """Normalise lists to tuples and parse guides and seeds; then check every field (errors name it)."""
        put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 -- frozen dataclass normalisation
        method = str(self.method).replace("-", "_")
        put("method", method)
        put("seeds", parse_seed_list(self.seeds))
        guides = (self.guides,) if isinstance(self.guides, (str, Mapping)) else self.guides
        put("guides", tuple(parse_guide_entry(g) for g in guides))
        for name in ("references", "clip_models"):
            v = getattr(self, name)
            put(name, (v,) if isinstance(v, str) else tuple(str(x) for x in v))
        put("clip_weights", tuple(self.clip_weights) if not isinstance(self.clip_weights, (int, float)) else (self.clip_weights,))
        if isinstance(self.doodl_options, Mapping):
            put("doodl_options", dict(self.doodl_options))
        if isinstance(self.class_index, str):
            put("class_index", parse_class(self.class_index, self.resolved_classifier))
        self._check()

    def _check(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.method not in METHODS:
            raise ValueError(f"--method must be one of doodl, one-step, vanilla, got {self.method!r}")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"--model must be a hub id, folder or short name, got {self.model!r}")
        if not isinstance(self.prompt, str) or not (self.negative_prompt is None or isinstance(self.negative_prompt, str)):
            raise ValueError("prompt and negative_prompt must be strings")
        check_integer("--steps", self.steps, 1)
        if self.opt_steps is not None:
            check_integer("--opt-steps", self.opt_steps, 0)
        if self.lr is not None:
            check_number("--lr", self.lr, 0, open_low=True)
        for name, v in (("--guidance-scale", self.guidance_scale), ("--one-step-scale", self.one_step_scale)):
            if v is not None:
                check_number(name, v, 0)
        self._check_guides()
        self._check_task()
        if self.clip_weights and len(self.clip_weights) != len(self.clip_models):
            raise ValueError(f"--clip-weight was given {len(self.clip_weights)} times for {len(self.clip_models)} --clip-model")
        for w in self.clip_weights:
            check_number("--clip-weight", w, 0)
        if self.dtype not in DTYPES:
            raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.coupling_dtype not in COUPLING_DTYPES:
            raise ValueError(f"--coupling-dtype must be one of {', '.join(COUPLING_DTYPES)}, got {self.coupling_dtype!r}")
        if not isinstance(self.device, str) or not self.device.split(":")[0] in ("auto", "cpu", "cuda", "mps"):
            raise ValueError(f"--device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}")
        if self.grad_mode not in GRAD_MODES:
            raise ValueError(f"--grad-mode must be one of {', '.join(GRAD_MODES)}, got {self.grad_mode!r}")
        check_integer("--crops", self.crops, 0)
        for name, v in (("--height", self.height), ("--width", self.width)):
            if v is not None:
                check_integer(name, v, 1)
        check_integer("--batch-size", self.batch_size, 1)
        check_integer("max_iterates", self.max_iterates, 1)
        if not isinstance(self.low_memory, bool):
            raise ValueError(f"low_memory must be true or false, got {self.low_memory!r}")
        self.doodl_config()  # checks doodl_options
        if self.task in ("generate", "edit") and not self.guides and self.method != "vanilla":
            self._default_guide()  # a zoo model without a fitting guide fails here, before loading

    def _check_guides(self) -> None:
        from ..scorers.registry import SCORERS

        for g in self.guides:
            entry = SCORERS.get(g.name.lower())
            if entry is None:
                raise ValueError(f"unknown guide {g.name!r}; valid guides: {', '.join(sorted(SCORERS))}")
            unknown = sorted({str(k).strip().replace("_", "-") for k in g.options} - set(entry.options))
            if unknown:  # checked here too, so a typo fails before any model is loaded
                raise ValueError(f"--guide {g.name}: unknown option {unknown[0]!r}; valid options: {', '.join(entry.options)}")
            if entry.name == "classifier" and "classifier" in g.options:
                check_classifier_spec(g.options["classifier"], "--guide classifier: classifier")

    def _check_task(self) -> None:
        if self.task == "edit":
            if not self.image:
                raise ValueError("edit needs an image to edit")
            if self.invert_to is not None:
                check_integer("--invert-to", self.invert_to, 1, self.steps)
            if self.target is not None:
                check_number("--target", self.target, 1, high=10)  # LAION's ratings run from 1 to 10 (§5.3)
        if self.task == "personalize" and not self.references:
            raise ValueError("personalize needs at least one reference image")
        if self.task == "classify-guide":
            if self.class_index is None:
                raise ValueError("classify-guide needs --class (the target class index)")
            classifier = self.resolved_classifier
            check_classifier_spec(classifier)
            n = CLASSIFIER_CLASSES.get(classifier)
            v = self.class_index
            if n is not None and (not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < n):
                raise ValueError(f"--class must be in 0-{n - 1} for {classifier} ({n} classes), got {v!r}")
            check_integer("--class", v, 0)

    # ---- resolved values ----

    @property
    def defaults(self) -> TaskDefaults:
        """The paper's defaults for this task (lr, opt_steps, guidance scales)."""
        return TASK_DEFAULTS[self.task]

    def resolved(self) -> dict[str, Any]:
        """lr, opt_steps, guidance_scale and one_step_scale with the task defaults filled in, plus invert_to."""
        d = self.defaults
        pick = lambda v, default: default if v is None else v  # noqa: E731
        invert_to = self.invert_to
        if self.task == "edit" and invert_to is None:
            invert_to = self.steps if self.method == "doodl" else max(1, self.steps // 2)  # §5.3
        return {
            "lr": pick(self.lr, d.lr), "opt_steps": pick(self.opt_steps, d.opt_steps),
            "guidance_scale": pick(self.guidance_scale, d.guidance_scale),
            "one_step_scale": pick(self.one_step_scale, d.one_step_scale), "invert_to": invert_to,
        }

    def doodl_config(self):
        """The DoodlConfig for this run (lr, grad_mode, coupling_dtype from their fields, others from doodl_options)."""
        from ..optimizer.config import DoodlConfig

        opts = self.doodl_options
        if not isinstance(opts, dict):
            raise ValueError(f"doodl_options must be a dict of DoodlConfig fields, got {type(opts).__name__}")
        known = {f.name for f in fields(DoodlConfig)} - set(_RESERVED_OPTIONS)
        unknown = sorted(set(opts) - known)
        if unknown:
            raise ValueError(f"unknown DOODL option {unknown[0]!r}; valid: {', '.join(sorted(known))}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}
        try:
            return DoodlConfig(lr=float(self.resolved()["lr"]), grad_mode=self.grad_mode,  # type: ignore[arg-type]
                               coupling_dtype=self.coupling_dtype, **values)
        except TypeError as e:
            raise ValueError(f"bad DOODL option: {e}") from None
        except ValueError as e:  # DoodlConfig's check names the field; say it came from --set
            if str(e).split(" ")[0] in opts:
                raise ValueError(f"--set {e}") from None
            raise

    def resolved_guides(self) -> tuple["GuideSpec", ...]:
        """The guides this run optimises: the task's own guide and/or --guide terms, with --clip-model filled in.

        generate and edit use their default guide (clip-text toward the prompt; aesthetic toward --target) only
        when no --guide is given, and not for vanilla sampling, which needs no scorer (then there are no guides);
        on a zoo model generate's default is the zoo classifier toward the class the prompt names. personalize
        and classify-guide always include theirs (references, class), which also scores the baselines.
        """
        from ..specs import GuideSpec

        own: GuideSpec | None = None
        if self.task in ("generate", "edit") and not self.guides:
            own = None if self.method == "vanilla" else self._default_guide()
        elif self.task == "personalize":
            own = GuideSpec("clip-image", 1.0, {"references": ";".join(self.references)})
        elif self.task == "classify-guide":
            own = GuideSpec("classifier", 1.0, {"classifier": self.resolved_classifier,
                                                "class": str(self.class_index)})
        guides = ((own,) if own is not None else ()) + self.guides
        return tuple(self._fill(g) for g in guides)

    @property
    def resolved_classifier(self) -> str:
        """classify-guide's classifier: as given, else the zoo's guidance classifier on a zoo model, else ImageNet's."""
        from .models import is_short_name

        if self.classifier:
            return self.classifier
        return "fashion-guide" if is_short_name(self.model) else DEFAULT_CLASSIFIER

    def _default_guide(self) -> "GuideSpec":
        """generate: clip-text; edit: aesthetic; on a zoo model (28x28 grayscale, no text) the zoo classifier."""
        from ..specs import GuideSpec
        from .models import is_short_name

        if not is_short_name(self.model):
            return GuideSpec("clip-text") if self.task == "generate" else GuideSpec("aesthetic")
        hint = (f"--model {self.model} has no CLIP or aesthetic guide that fits its 28x28 grayscale images: give "
                "--guide (e.g. --guide classifier,classifier=fashion-guide,class=sneaker)")
        if self.task == "generate":
            from ..data.fashion_mnist import class_index

            try:
                k = class_index(self.prompt)
            except ValueError:
                raise ValueError(f"{hint}, or a Fashion-MNIST class name as the prompt (e.g. \"sneaker\")") from None
            return GuideSpec("classifier", 1.0, {"classifier": "fashion-guide", "class": str(k)})
        raise ValueError(hint)

    def _fill(self, g: "GuideSpec") -> "GuideSpec":
        """Add the run-wide --clip-model / --clip-weight / --target to a guide that does not set them itself."""
        opts = dict(g.options)
        name = g.name.lower()
        if name in ("clip-text", "clip-image") and self.clip_models and "clip-model" not in opts:
            opts["clip-model"] = ";".join(self.clip_models)
            if self.clip_weights:
                opts.setdefault("weights", ";".join(f"{w:g}" for w in self.clip_weights))
        if name == "aesthetic":
            if self.clip_models and "clip-model" not in opts:
                if len(self.clip_models) > 1:
                    raise ValueError("the aesthetic guide takes one --clip-model (its head was trained on one CLIP)")
                opts["clip-model"] = self.clip_models[0]
            if self.target is not None:
                opts.setdefault("target", f"{self.target:g}")
        return replace(g, options=opts)

    # ---- JSON ----

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (tuples as lists, guides as {name, weight, options}); from_dict inverts it."""
        d = asdict(self)
        d["guides"] = [{"name": g.name, "weight": g.weight, "options": dict(g.options)} for g in self.guides]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunSpec":
        """A RunSpec from to_dict() output or a hand-written job; '-' in keys reads as '_', unknown keys are an error.

        Aliases: seed -> seeds (int, list or '0-3'), guide -> guides, clip_model -> clip_models, class -> class_index.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a run spec must be a JSON object, got {type(data).__name__}")
        aliases = {"seed": "seeds", "guide": "guides", "clip_model": "clip_models", "clip_weight": "clip_weights",
                   "class": "class_index", "reference": "references"}
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            k = str(key).strip().replace("-", "_")
            k = aliases.get(k, k)
            if k not in known:
                raise ValueError(f"unknown run spec key {key!r}; valid keys: {', '.join(sorted(known))}")
            if k in kwargs:
                raise ValueError(f"run spec key {key!r} is given twice (directly and by an alias)")
            kwargs[k] = value
        return cls(**kwargs)
