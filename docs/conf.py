"""Sphinx configuration of tune-bs's documentation site (docs/development.md, "The documentation").

Build it strictly, as CI does (warnings are errors)::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -n -b html docs docs/_build/html

or serve it while you edit: ``sphinx-autobuild docs docs/_build/html --watch README.md --watch
tune_bs``. The pages are Markdown (MyST); the front page includes the README; the API reference
is generated from the public docstrings by autodoc. Nothing is fetched from the network at
build time (no intersphinx): a reference to another project's object is plain text
(``nitpick_ignore_regex`` below).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the package as checked out, whether or not it is installed

project = "tune-bs"
author = "tune-bs contributors"
copyright = "tune-bs contributors, Apache-2.0"
release = version = "0.1.0"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# _incoming/: pages other helpers drop for the integrator, not part of the site until placed
exclude_patterns = ["_build", "_incoming", "Thumbs.db", ".DS_Store"]

# MyST: GitHub-style heading anchors, so that [text](page.md#a-heading) works both on GitHub and
# here; $…$ is left alone (the pages write math in Unicode).
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# autodoc: members in source order, type hints in the description, no import of a module's
# heavy dependencies at import time is needed (tune_bs imports lazily).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Strict: a broken link, toctree entry or Python reference fails the build (-W -n). The docstrings
# cite internal objects the site does not document (:mod:`tune_bs.schedule.switching.judging`):
# such a reference is checked against the code instead (_resolve_in_code) and shown as code when
# it names something that exists; one that names nothing is an error. Names of other projects are
# plain text: no intersphinx, the build is offline.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(ray|torch|numpy|np|pandas|pd|sklearn|optuna|scipy|pyarrow|mlflow|aeon)(\..*)?"),
    (r"py:class", r"(TuneController|Trial|Policy)"),  # Ray Tune's types, in signatures
]


def _object(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _exists(dotted: str) -> bool:
    """Whether ``dotted`` names a module, or an attribute (or dataclass field) of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            fields = getattr(obj, "__dataclass_fields__", {})
            if part in fields and not hasattr(obj, part):
                return True
            if not hasattr(obj, part):
                return False
            obj = getattr(obj, part)
        return True
    return False


def _resolve_in_code(app, env, node, contnode):
    """A Python reference to an existing object the site does not document: keep it, as code."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module:
        candidates.append(f"{module}.{target}")
        if cls:
            candidates.append(f"{module}.{cls}.{target}")
    if cls and module and _exists(f"{module}.{cls}"):  # a re-export: its defining module too
        defining = getattr(_object(f"{module}.{cls}"), "__module__", None)
        candidates += [f"{defining}.{target}", f"{defining}.{cls}.{target}"]
    if not (target.startswith("tune_bs") or module):
        return None
    if any(_exists(c) for c in candidates):
        return contnode
    # a short name a docstring takes from its own package (``CurveFit.advance``): it must exist
    # in some module of tune_bs
    head, _, rest = target.partition(".")
    for name, mod in list(sys.modules.items()):
        if (
            name.startswith("tune_bs")
            and hasattr(mod, head)
            and (not rest or _exists(f"{name}.{target}"))
        ):
            return contnode
    return None


def setup(app):
    app.connect("missing-reference", _resolve_in_code)


html_theme = "furo"
html_title = "tune-bs"
html_static_path: list[str] = []
html_show_sourcelink = False
