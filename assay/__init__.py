"""assay: evaluate machine-learning models before and after they ship.

>>> import assay
>>> run = assay.evaluate({"y": [0, 1, 1, 0], "p": [0.1, 0.8, 0.3, 0.2]}, task="binary", label="y", score="p")
>>> run.to_dict()["schema"]
'assay.run/1'
"""

from assay._version import __version__
from assay.errors import AssayError, ColumnError, ConfigError, InputError, ReadError, StateError
from assay.evaluation import EvalConfig, Run, evaluate

__all__ = [
    "AssayError",
    "ColumnError",
    "ConfigError",
    "EvalConfig",
    "InputError",
    "ReadError",
    "Run",
    "StateError",
    "__version__",
    "evaluate",
]
