"""A local web page for doodl runs (`doodl serve`): the four applications, live iterates and loss, Cancel, downloads.

The Gradio page (app.py, needs the `doodl[web]` extra) is a thin layer over three plain modules that need no
Gradio: form.py (page fields -> RunSpec), uploads.py (checked uploads in a temporary folder) and jobs.py (one
job at a time on the device, live progress, cancellation).
"""

from .form import DEFAULT_GUIDE, DEFAULT_MODEL, spec_from_form
from .jobs import Cancelled, Busy, JobRunner, Progress
from .uploads import MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, check_upload

__all__ = ["DEFAULT_GUIDE", "DEFAULT_MODEL", "spec_from_form", "Cancelled", "Busy", "JobRunner", "Progress",
           "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS", "check_upload"]
