"""assay: evaluate machine-learning models before and after they ship.

>>> import assay
>>> run = assay.evaluate({"y": [0, 1, 1, 0], "p": [0.1, 0.8, 0.3, 0.2]}, task="binary", label="y", score="p")
>>> run.to_dict()["schema"]
'assay.run/1'
>>> assay.drift({"x": [1.0, 2.0, 3.0] * 100}, {"x": [1.0, 2.0, 3.0] * 100}).drifted
False
"""

from assay._version import __version__
from assay.errors import AssayError, ColumnError, ConfigError, InputError, ReadError, StateError
from assay.evaluation import EvalConfig, Run, evaluate

# after the package import: the names ``drift`` and ``profile`` are the functions, not the subpackage
from assay.drift.profile import Profile, load_profile, profile  # isort: skip
from assay.drift.run import DriftResult, drift  # isort: skip

__all__ = [
    "AssayError",
    "ColumnError",
    "ConfigError",
    "DriftResult",
    "EvalConfig",
    "InputError",
    "Profile",
    "ReadError",
    "Run",
    "StateError",
    "__version__",
    "drift",
    "evaluate",
    "load_profile",
    "profile",
]
