"""The Fashion-MNIST model zoo: two pixel DDPMs (unconditional; class-conditional for CFG), a guidance classifier
and an independent evaluation classifier (FMNIST-FID): training, loading by name, model cards."""

from .cards import ModelCard, read_card, render_readme, write_readme
from .config import CLASSIFIER_NAMES, DDPM_NAMES, NAMES, ClassifierConfig, DDPMConfig, TrainResult, default_config
from .fid import classifier_accuracy, fmnist_features, fmnist_fid, predict, target_accuracy
from .models import UNET_CONFIG, EvalCNN, GuidanceCNN, build_unet
from .registry import load_classifier, load_fashion_backend, load_unet, weights_path, zoo_dir
from .train import train_classifier, train_ddpm

__all__ = [
    "NAMES", "DDPM_NAMES", "CLASSIFIER_NAMES", "DDPMConfig", "ClassifierConfig", "TrainResult", "default_config",
    "train_ddpm", "train_classifier", "load_fashion_backend", "load_classifier", "load_unet", "weights_path",
    "zoo_dir", "ModelCard", "read_card", "render_readme", "write_readme", "fmnist_features", "fmnist_fid",
    "target_accuracy", "classifier_accuracy", "predict", "UNET_CONFIG", "GuidanceCNN", "EvalCNN", "build_unet",
]
