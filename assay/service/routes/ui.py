"""``/ui/``: assay's own dashboard. The page shells and their static files are public; every data call they make
carries the token kept in the browser tab's session (a login form asks for it), so nothing is readable without
one. A strict Content-Security-Policy (scripts and styles from this origin only, no inline code, no framing) and
text-only rendering of every value keep hostile strings inert."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

router = APIRouter(include_in_schema=False)
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
VIEWS = ("executive", "on-call", "debug")


def _file(name: str) -> bytes:
    return (resources.files("assay.service") / "ui" / name).read_bytes()


def _shell() -> Response:
    return Response(_file("shell.html"), media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/ui")
@router.get("/ui/")
async def home() -> Response:
    return _shell()


@router.get("/ui/models/{model}/{view}")
async def model_view(model: str, view: str) -> Response:
    if view not in VIEWS:
        raise HTTPException(404, {"message": f"view {view!r}: expected one of {', '.join(VIEWS)}"})
    return _shell()


@router.get("/ui/static/{name}")
async def static(name: str) -> Response:
    kind = next((t for ext, t in _TYPES.items() if name.endswith(ext)), None)
    if kind is None or "/" in name or name.startswith("."):
        raise HTTPException(404, {"message": f"static file {name!r}: not found"})
    try:
        body = _file(name)
    except FileNotFoundError:
        raise HTTPException(404, {"message": f"static file {name!r}: not found"}) from None
    return Response(body, media_type=kind, headers=HEADERS)
