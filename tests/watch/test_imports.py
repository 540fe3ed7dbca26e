"""`import assay` (and the CLI) never loads the web framework, the database layer or the OTLP protobufs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "httpx", "pydantic",
         "opentelemetry", "google.protobuf")


def _loaded_after(code: str) -> dict[str, bool]:
    script = f"import sys\n{code}\nprint(*[m in sys.modules for m in {HEAVY!r}])"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return dict(zip(HEAVY, (w == "True" for w in out.stdout.split()), strict=True))


def test_import_assay_and_the_cli_parser_stay_light() -> None:
    loaded = _loaded_after("import assay, assay.cli.main\nassay.cli.main.build_parser()")
    assert not any(loaded.values()), [m for m, on in loaded.items() if on]


def test_the_service_loads_them() -> None:  # the check above can fail: the modules are there to be loaded
    loaded = _loaded_after("import assay.service.app")
    assert loaded["fastapi"] and loaded["sqlalchemy"]
