"""``assay watch replay``: stream a table of predictions (or labels) to the monitoring service.

Example: ``assay watch replay preds.parquet --model fraud --url http://localhost:8000 --shift-to-now --speed 60``
sends the rows in file order, through :class:`assay.watch.client.Client`, moving every timestamp so that the newest
one is the time of the start, and pacing the batches at 60 times the pace of their timestamps.

Each batch is sent and answered before the next one is read, so memory holds one batch. Exit codes: 0 every event
was stored or was a duplicate, 1 some were rejected (the reasons on stderr, the rows in ``--dead-letter``), 2 bad
input, a refused token, or a service that stayed unreachable for the client's whole retry time (the replay stops
there; replaying again is safe, events already stored count as duplicates).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from typing import Any

from assay.errors import ColumnError, ConfigError, message

_SHOWN_REJECTIONS = 5


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "watch",
        help="send events to the monitoring service",
        description="Send events to the monitoring service. Example: assay watch replay preds.parquet --model fraud "
        "--url http://localhost:8000 --shift-to-now",
    )
    commands = p.add_subparsers(dest="watch_command", metavar="COMMAND")
    r = commands.add_parser(
        "replay",
        help="stream a table of predictions or labels to the service",
        description="Stream a table (CSV, Parquet, JSON Lines or Arrow IPC) of predictions, or labels with --labels, "
        "to the service, in file order. Exit 0 when every event was stored (or was a duplicate), 1 when some were "
        "rejected, 2 on bad input. Example: assay watch replay preds.parquet --model fraud --shift-to-now --speed 60",
    )
    r.add_argument("file", help="CSV, Parquet, JSON Lines or Arrow IPC file, one event per row")
    r.add_argument("--model", required=True, metavar="NAME", help="the model's name on the service")
    r.add_argument("--url", help="the service's base URL (default: $ASSAY_URL)")
    r.add_argument("--token", help="API token (default: $ASSAY_TOKEN)")
    r.add_argument("--labels", action="store_true", help="the rows are labels (each with the id of its prediction)")
    r.add_argument("--batch-size", type=int, default=1000, metavar="N", help="events per request (default 1000)")
    r.add_argument("--speed", type=float, default=0.0, metavar="X",
                   help="replay at X times the pace of the timestamps (sleep between batches for the gap "
                   "between their earliest timestamps divided by X); 0 = as fast as possible (default)")
    r.add_argument("--shift-to-now", action="store_true",
                   help="move every timestamp by one constant so that the newest is now (reads the file twice)")
    r.add_argument("--timestamp-column", default="timestamp", metavar="COLUMN",
                   help="event time column, for --speed and --shift-to-now (default: timestamp): timestamps, RFC 3339 "
                   "strings or epoch seconds")
    r.add_argument("--id-column", default="id", metavar="COLUMN",
                   help="event id column (default: id); predictions without one get a UUIDv7")
    r.add_argument("--dead-letter", metavar="PATH",
                   help="append rejected batches here as JSON lines {model, kind, error, rows}")
    r.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(handler=lambda args: _usage(p))
    r.set_defaults(handler=run)
    sim = commands.add_parser(
        "simulate", help="send synthetic traffic to a running service, with scheduled injections",
        description="Send synthetic traffic for a model of the config to a running service (wall-clock time, labels "
        "right after their predictions) and inject, at the given offsets, a covariate shift (shift), longer text "
        "(prompts), a missing-rate jump (missing) or a drop in accuracy (accuracy). Example: assay watch simulate "
        "--config watch.yaml --model fraud --url http://localhost:8000 --inject shift@5m,accuracy@10m --duration 20m")
    sim.add_argument("--config", default="watch.yaml", help="the watch.yaml of the service (for the model's roles)")
    sim.add_argument("--model", required=True, metavar="NAME", help="the model to send events of")
    sim.add_argument("--url", help="the service's base URL (default: $ASSAY_URL)")
    sim.add_argument("--token", help="API token with the ingest scope (default: $ASSAY_TOKEN)")
    sim.add_argument("--rate", type=float, default=50.0, help="events per second (default 50)")
    sim.add_argument("--duration", default="10m", help="how long (default 10m)")
    sim.add_argument("--inject", default="", help="KIND@OFFSET,... with KIND shift|prompts|missing|accuracy")
    sim.add_argument("--seed", type=int, default=0)
    sim.set_defaults(handler=run_simulate)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def run(
    args: argparse.Namespace,
    *,
    transport: Any = None,
    sleep: Callable[[float], Any] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], float] = time.time,
) -> int:
    """Replay ``args.file``; ``transport`` (an httpx transport), ``sleep``, ``clock`` (monotonic seconds) and ``now``
    (Unix seconds) are seams for tests."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from assay.cli._console import console as make_console
    from assay.cli._progress import ReadProgress
    from assay.data.tables import open_table
    from assay.watch.client import Client, ClientError, append_dead_letter

    url = args.url or os.environ.get("ASSAY_URL")
    token = args.token or os.environ.get("ASSAY_TOKEN")
    if not url:
        raise ConfigError(message(where="assay watch replay", expected="the service's URL", found="no --url and no "
                                  "$ASSAY_URL", fix="pass --url http://HOST:PORT or set ASSAY_URL"))
    if not token:
        raise ConfigError(message(where="assay watch replay", expected="an API token", found="no --token and no "
                                  "$ASSAY_TOKEN", fix="pass --token TOKEN or set ASSAY_TOKEN"))
    if args.batch_size < 1:
        raise ConfigError(message(where="option --batch-size", expected="a positive count of events",
                                  found=str(args.batch_size), fix="pass --batch-size 1000"))
    if not math.isfinite(args.speed) or args.speed < 0:
        raise ConfigError(message(where="option --speed", expected="a number >= 0 (0: as fast as possible)",
                                  found=str(args.speed), fix="pass --speed 1 for real time, --speed 60 for an hour "
                                  "a minute"))
    if args.dead_letter and os.path.abspath(args.dead_letter) == os.path.abspath(args.file):
        raise ConfigError(message(where="option --dead-letter", expected="an output path",
                                  found=f"the input file {args.file!r}", fix="write the rejected rows elsewhere"))

    source = open_table(args.file, chunk_rows=args.batch_size)
    column = args.timestamp_column
    paced = args.speed > 0
    if paced or args.shift_to_now:
        source.check_columns([column])
    if args.labels:
        source.check_columns([args.id_column])
    shift_us = 0
    if args.shift_to_now:
        newest = None
        for batch in source.batches([column]):
            top = _max_us(_timestamps(batch.column(0), column, source.name))
            newest = top if newest is None or (top is not None and top > newest) else newest
        if newest is None:
            raise ColumnError(message(where=f"column {column!r} of {source.name}", expected="at least one timestamp",
                                      found="none (an empty table, or only nulls)",
                                      fix="check the file, or drop --shift-to-now"))
        shift_us = round(now() * 1e6) - newest

    err = make_console(stderr=True)
    kind = "labels" if args.labels else "predictions"
    shown = [0]
    unreachable: list[str] = []

    def say(text: str) -> None:
        err.print(text, markup=False, highlight=False, soft_wrap=True)

    def on_reject(model: str, kind: str, rows: list[dict[str, Any]], error: dict[str, Any]) -> None:
        if args.dead_letter:
            append_dead_letter(args.dead_letter, model, kind, rows, error)
        if shown[0] < _SHOWN_REJECTIONS:
            say(f"assay: {len(rows)} {kind} rejected: {_describe(error)}")
        elif shown[0] == _SHOWN_REJECTIONS:
            say("assay: more batches rejected (not shown)")
        shown[0] += 1
        if "attempts" in error:  # retries ran out: the service is down, stop instead of waiting on every batch
            unreachable.append(str(error.get("message")))

    sent = 0
    start: float | None = None
    first_us: int | None = None
    with Client(url, token, batch_size=args.batch_size, on_reject=on_reject, transport=transport,
                id_column=args.id_column, sleep=sleep, clock=clock) as client, \
            ReadProgress(err, quiet=args.quiet, label=f"sending {kind}") as progress:
        log = client.log_labels if args.labels else client.log_predictions
        for batch in source.batches():
            if paced or args.shift_to_now:
                index = batch.schema.get_field_index(column)
                stamps = _timestamps(batch.column(index), column, source.name)
                earliest = _min_us(stamps) if paced else None
                if earliest is not None:  # the schedule: batch at start + (its earliest - the first) / speed
                    if start is None or first_us is None:
                        start, first_us = clock(), earliest
                    else:
                        wait = start + (earliest - first_us) / 1e6 / args.speed - clock()
                        if wait > 0:
                            sleep(wait)
                if args.shift_to_now:
                    ints = stamps.cast(pa.int64())
                    moved = pc.add(ints, pa.scalar(shift_us, pa.int64()))
                    batch = batch.set_column(index, column, moved.cast(pa.timestamp("us", tz="UTC")))
            if args.labels:
                ids = batch.column(batch.schema.get_field_index(args.id_column))
                if ids.null_count:
                    row = sent + int(np.flatnonzero(ids.is_null().to_numpy(zero_copy_only=False))[0])
                    raise ColumnError(message(where=f"row {row} of {source.name}, column {args.id_column!r}",
                                              expected="the id of the prediction the label belongs to",
                                              found="no id", fix="fill the id column, or drop the rows without one"))
            log(args.model, batch.to_pylist())
            client.flush()
            sent += batch.num_rows
            if unreachable:
                raise ClientError(message(
                    where=f"the service at {url}", expected="an answer to every request",
                    found=unreachable[0], fix=f"check --url and that the service runs, then replay again: the {sent} "
                    "events sent so far were stored or rejected, and sending them again counts them as duplicates"))
            if progress is not None:
                progress(sent, source.num_rows)
    stats = client.stats
    summary = (f"sent {sent} events: accepted {stats.accepted}, duplicates {stats.duplicates}, "
               f"conflicts {stats.conflicts}, rejected {stats.rejected}")
    if stats.rejected:
        hint = f"rejected rows appended to {args.dead_letter}" if args.dead_letter else \
            "pass --dead-letter PATH to keep the rejected rows"
        say(f"assay: {summary}; {hint}")
        return 1
    if not args.quiet:
        print(summary)
    return 0


def _timestamps(array: Any, column: str, name: str) -> Any:
    """``array`` (Arrow timestamps, RFC 3339 strings or epoch seconds) as ``timestamp[us, tz=UTC]``; naive
    timestamps and strings without an offset are taken as UTC."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = pa.timestamp("us", tz="UTC")
    kind = array.type
    try:
        if pa.types.is_timestamp(kind):
            return pc.cast(array, target, safe=False)
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            micros = pc.round(pc.multiply(pc.cast(array, pa.float64()), 1e6))
            return pc.cast(pc.cast(micros, pa.int64()), target)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            try:
                return pc.cast(array, target)
            except pa.ArrowInvalid:
                return pc.cast(pc.cast(array, pa.timestamp("us")), target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ColumnError(message(where=f"column {column!r} of {name}",
                                  expected="timestamps, RFC 3339 strings or epoch seconds",
                                  found=f"values that do not convert ({exc})",
                                  fix="write every value as e.g. 2026-12-01T10:00:00Z, or pass --timestamp-column")) \
            from None
    raise ColumnError(message(where=f"column {column!r} of {name}",
                              expected="timestamps, RFC 3339 strings or epoch seconds", found=f"type {kind}",
                              fix="pass --timestamp-column with the event time column"))


def _max_us(stamps: Any) -> int | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    value = pc.max(stamps.cast(pa.int64())).as_py()
    return int(value) if value is not None else None


def _min_us(stamps: Any) -> int | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    value = pc.min(stamps.cast(pa.int64())).as_py()
    return int(value) if value is not None else None


def _describe(error: dict[str, Any]) -> str:
    """The server's reason for a rejection, with its first field error."""
    text = str(error.get("message") or "no reason given")
    errors = error.get("errors") or []
    if errors and isinstance(errors[0], dict):
        first = errors[0]
        where = ", ".join(f"{key} {first[key]!r}" for key in ("id", "field") if first.get(key) is not None)
        expected = f"expected {first['expected']}" if first.get("expected") is not None else ""
        found = f"found {first['found']!r}" if "found" in first else ""
        detail = ", ".join(part for part in (where, expected, found) if part)
        text += f" (first: {detail}{'' if len(errors) == 1 else f'; {len(errors)} errors'})"
    return text


def run_simulate(args: argparse.Namespace) -> int:
    import sys

    from assay.watch.client import Client
    from assay.watch.config import load_config
    from assay.watch.simulate import parse_schedule
    from assay.watch.simulate import run as simulate

    config = load_config(args.config)
    model = config.models.get(args.model)
    if model is None:
        raise ConfigError(message(where="--model", expected=f"a model of {args.config} ({', '.join(config.models)})",
                                  found=repr(args.model), fix="name one of the config's models"))
    url = args.url or os.environ.get("ASSAY_URL")
    token = args.token or os.environ.get("ASSAY_TOKEN")
    if not url or not token:
        raise ConfigError(message(where="assay watch simulate", expected="--url and --token (or $ASSAY_URL and "
                                  "$ASSAY_TOKEN)", found="one missing", fix="pass both"))
    schedule = parse_schedule(args.inject)
    from assay.watch.config import parse_duration

    duration = parse_duration(args.duration, "--duration")
    client = Client(url, token=token)
    try:
        def send(preds: list[dict[str, Any]], labels: list[dict[str, Any]]) -> None:
            client.log_predictions(args.model, preds)
            if labels:
                client.log_labels(args.model, labels)

        out = simulate(send, model, rate=args.rate, duration=duration, schedule=schedule, seed=args.seed,
                       say=lambda text: print(f"assay watch simulate: {text}", file=sys.stderr, flush=True))
    finally:
        client.close()
    print(f"assay watch simulate: sent {out['sent']:,} events in {out['seconds']} s")
    return 0
