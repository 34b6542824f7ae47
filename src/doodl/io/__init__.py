"""File input and output: atomic writes, PNGs with metadata, grids, GIFs, loss curves."""

from .atomic import atomic_path, atomic_write_text, check_writable_dir
from .images import grid, load_image, read_png_metadata, save_gif, save_png, to_pil
from .plots import save_loss_curve

__all__ = ["atomic_path", "atomic_write_text", "check_writable_dir", "grid", "load_image", "read_png_metadata",
           "save_gif", "save_png", "to_pil", "save_loss_curve"]
