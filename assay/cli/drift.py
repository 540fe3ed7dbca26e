"""``assay drift`` and ``assay profile``: distribution shift between a reference and current data."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from assay.cli._progress import ReadProgress
from assay.cli._tables import STDIN, TABLE_HELP, add_table_options, check_stdin
from assay.drift.methods import DEFAULT_MIN_EFFECT
from assay.drift.profile import KINDS
from assay.errors import ConfigError, message

EXIT_OK, EXIT_DRIFT = 0, 1


def _pairs(values: list[str], option: str, example: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        for part in item.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(message(where=f"option {option}", expected="NAME=VALUE", found=repr(part),
                                          fix=f"e.g. {option} {example}"))
            out[key.strip()] = value.strip()
    return out


def _phrases(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if value.startswith("@"):
        path = value[1:]
        with open(path, encoding="utf-8") as f:
            return tuple(line.strip() for line in f if line.strip())
    return tuple(p.strip() for p in value.split("|") if p.strip())


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--columns", help="comma-separated columns to use (default: all)")
    p.add_argument("--kind", action="append", default=[], metavar="COL=KIND",
                   help=f"override an inferred kind ({', '.join(KINDS)}); repeatable or comma-separated")
    p.add_argument("--bins", type=int, default=10, help="coarse bins for the binned tests (default 10, deciles)")
    p.add_argument("--fine-bins", type=int, default=200,
                   help="fine grid of a profile (default 200; a multiple of --bins)")
    p.add_argument("--refusal-phrases", metavar="'A|B|...' or @FILE",
                   help="text columns: phrases that mark a refusal ('|'-separated, or one per line in FILE)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling and permutation tests (default 0)")
    add_table_options(p)
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "drift", help="data quality and distribution shift between a reference and current data",
        description="Compare current data with a reference (a table or a profile). Example: assay drift "
        "reference.profile today.parquet --out drift.json --html drift.html --fail-on-drift")
    p.add_argument("reference", help=f"reference table (CSV, Parquet, JSON Lines, Arrow IPC) or .profile, {TABLE_HELP}")
    p.add_argument("current", nargs="?", help=f"current table or a profile made --like the reference, {TABLE_HELP}")
    _common(p)
    p.add_argument("--exclude", help="comma-separated columns to leave out")
    p.add_argument("--prediction", help="the model's prediction or score column (tested, marked as prediction)")
    p.add_argument("--label", help="the label column (tested, marked as label)")
    p.add_argument("--method", action="append", default=[], metavar="COL=METHOD",
                   help="method per column or per kind (e.g. age=ks, categorical=chi2): psi, jensen_shannon, "
                   "hellinger, chi2, ks, cramer_von_mises, wasserstein, z")
    p.add_argument("--min-effect", action="append", default=[], metavar="METHOD=X",
                   help="practical floor of a method's effect (defaults: "
                   + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_MIN_EFFECT.items()) + ")")
    p.add_argument("--psi-smoothing", type=float, default=0.5,
                   help="count added to every PSI bin on both sides (default 0.5; 0 = raw PSI, infinite on an empty "
                   "bin)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level after correction (default 0.05)")
    p.add_argument("--correction", default="holm", choices=["holm", "bh", "none"],
                   help="across all tests of all columns: holm (family-wise, default), bh (false discovery "
                   "rate), none (per column: a column's own tests still share its level)")
    p.add_argument("--multivariate", action="store_true",
                   help="also train a domain classifier (needs scikit-learn: pip install 'assay[multivariate]')")
    p.add_argument("--multivariate-rows", type=int, default=100_000,
                   help="rows sampled for the domain classifier, both sides together (default 100000)")
    p.add_argument("--out", help="write the drift document (JSON) here")
    p.add_argument("--html", help="write the HTML report here")
    p.add_argument("--markdown", help="write a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)")
    p.add_argument("--junit", help="write JUnit XML: one test per column, failed when it drifted")
    p.add_argument("--save-profile", metavar="PATH", help="also save the reference profile made on the way")
    p.add_argument("--fail-on-drift", action="store_true", help="exit 1 when the table drifts")
    p.add_argument("--simulate", action="store_true",
                   help="inject known shifts into resamples of the reference and report detection rates")
    p.add_argument("--sizes", default="500,5000,50000", help="--simulate: current sizes (default 500,5000,50000)")
    p.add_argument("--repeats", type=int, default=20, help="--simulate: repetitions per shift and size (default 20)")
    p.set_defaults(handler=run)

    q = sub.add_parser(
        "profile", help="a compact, mergeable drift profile of a table (or the merge of profiles)",
        description="Profile a table once and drift against the profile later. Examples: assay profile "
        "train.parquet --out reference.profile; assay profile today.parquet --like reference.profile --out "
        "today.profile; assay profile day1.profile day2.profile --out month.profile")
    q.add_argument("inputs", nargs="+", help="a table (a file, a directory or a quoted glob of files), or tables "
                   "with --like, or profiles to merge; one table may be - (standard input, read whole into memory)")
    q.add_argument("--out", required=True, help="write the profile here")
    q.add_argument("--like", help="count on this reference profile's grid (so that profiles merge)")
    _common(q)
    q.set_defaults(handler=run_profile)


def _check_outputs(args: argparse.Namespace, inputs: list[str]) -> None:
    for option in ("out", "html", "markdown", "junit", "save_profile"):
        path = getattr(args, option, None)
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder and not os.path.isdir(folder):
            raise ConfigError(message(where=f"option --{option.replace('_', '-')} {path!r}",
                                      expected="a path in an existing folder", found=f"no folder {folder!r}",
                                      fix="create the folder first, or write somewhere else"))
        if path and any(os.path.abspath(path) == os.path.abspath(i) for i in inputs if i and i != STDIN):
            raise ConfigError(message(where=f"option --{option.replace('_', '-')}", expected="an output path",
                                      found=f"the input file {path!r}", fix="write the output somewhere else"))


def run(args: argparse.Namespace) -> int:
    from assay.cli._console import console as make_console
    from assay.drift.run import drift

    _check_outputs(args, [args.reference, args.current])
    check_stdin([args.reference, args.current], args.format)
    err = make_console(stderr=True)
    phrases = _phrases(args.refusal_phrases)
    kinds = _pairs(args.kind, "--kind", "zip=categorical")
    if args.simulate:
        return _simulate(args, kinds, phrases, err)
    if args.current is None:
        raise ConfigError(message(where="assay drift", expected="a reference and a current table",
                                  found="only a reference", fix="pass the current table too, or --simulate"))
    floors_raw = _pairs(args.min_effect, "--min-effect", "psi=0.02")
    try:
        floors = {k: float(v) for k, v in floors_raw.items()}
    except ValueError:
        raise ConfigError(message(where="option --min-effect", expected="METHOD=NUMBER",
                                  found=str(floors_raw), fix="e.g. --min-effect psi=0.02")) from None
    options: dict[str, Any] = dict(
        columns=args.columns, exclude=args.exclude, kinds=kinds or None,
        methods=_pairs(args.method, "--method", "age=ks"), min_effect=floors, prediction=args.prediction,
        label=args.label, psi_smoothing=args.psi_smoothing, alpha=args.alpha, correction=args.correction,
        bins=args.bins, fine_bins=args.fine_bins,
        multivariate=args.multivariate, multivariate_rows=args.multivariate_rows, seed=args.seed)
    if phrases is not None:
        options["refusal_phrases"] = phrases
    reference, current = (_stdin_table(args) if path == STDIN else path for path in (args.reference, args.current))
    with ReadProgress(err, quiet=args.quiet) as update:
        progress = (lambda stage, rows, total: update(rows, total, stage)) if update else None
        result = drift(reference, current, progress=progress, encoding=args.encoding, **options)
    doc = result.to_dict()
    if args.out:
        result.write(args.out)
    if args.html:
        result.write_html(args.html)
    _ci_outputs(args, doc)
    if args.save_profile:
        result.reference_profile.save(args.save_profile)
    if not args.quiet:
        from assay.report.drift_terminal import render_drift as render_terminal

        console = make_console()
        render_terminal(doc, console)
        for label, path in (("drift", args.out), ("report", args.html), ("markdown", args.markdown),
                            ("junit", args.junit), ("profile", args.save_profile)):
            if path:
                console.print(f"[dim]{label}:[/] {path}")
    return EXIT_DRIFT if (args.fail_on_drift and result.drifted) else EXIT_OK


def _stdin_table(args: argparse.Namespace) -> Any:
    """The table piped to standard input, opened here so that --format applies to it alone."""
    from assay.data.tables import open_table

    return open_table(STDIN, encoding=args.encoding, format=args.format)


def _ci_outputs(args: argparse.Namespace, doc: dict[str, Any]) -> None:
    from assay.data.atomic import atomic_write
    from assay.report.drift_ci import render_junit, render_markdown

    markdown = render_markdown(doc)
    if args.markdown:
        atomic_write(args.markdown, markdown)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(markdown + "\n")
    if args.junit:
        atomic_write(args.junit, render_junit(doc))


def _simulate(args: argparse.Namespace, kinds: dict[str, str], phrases: tuple[str, ...] | None, err: Any) -> int:
    from assay.cli._console import console as make_console
    from assay.drift.simulate import render_simulation, simulate

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(message(where="option --sizes", expected="comma-separated row counts",
                                  found=repr(args.sizes), fix="e.g. --sizes 500,5000,50000")) from None
    if args.current is not None:
        raise ConfigError(message(where="assay drift --simulate", expected="only the reference table",
                                  found=f"a current table too ({args.current!r})",
                                  fix="drop the current table: the shifts are injected into resamples of the "
                                  "reference"))
    with ReadProgress(err, quiet=args.quiet, label="simulating") as update:
        doc = simulate(args.reference, sizes=sizes, repeats=args.repeats, columns=args.columns,
                       kinds=kinds or None, alpha=args.alpha, correction=args.correction, seed=args.seed,
                       encoding=args.encoding, format=args.format, progress=update)
    if args.out:
        from assay.data.atomic import atomic_write

        atomic_write(args.out, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    if not args.quiet:
        render_simulation(doc, make_console())
    return EXIT_OK


def run_profile(args: argparse.Namespace) -> int:
    from assay.cli._console import console as make_console
    from assay.drift.profile import is_profile_path, load_profile, merge_profiles, profile

    _check_outputs(args, [*args.inputs, args.like])
    check_stdin(args.inputs, args.format)
    err = make_console(stderr=True)
    tables = [i for i in args.inputs if i == STDIN or not is_profile_path(i)]
    profiles = [load_profile(i) for i in args.inputs if i != STDIN and is_profile_path(i)]
    kinds = _pairs(args.kind, "--kind", "zip=categorical")
    like = load_profile(args.like) if args.like else None
    if like is None and tables and (len(tables) > 1 or profiles):
        raise ConfigError(message(
            where="assay profile", expected="one table, or several with --like REFERENCE.profile",
            found=f"{len(tables)} tables" + (f" and {len(profiles)} profiles" if profiles else ""),
            fix="profile the reference first (assay profile train.parquet --out ref.profile), then the others "
            "with --like ref.profile"))
    if like is None and profiles and not tables:
        like = profiles[0]
    phrases = _phrases(args.refusal_phrases)
    made = []
    with ReadProgress(err, quiet=args.quiet, label="profiling") as update:
        for path in tables:
            options: dict[str, Any] = dict(columns=args.columns.split(",") if args.columns else None,
                                           progress=(lambda r, t, p=path: update(r, t, p)) if update else None,
                                           kinds=kinds or None, fine_bins=args.fine_bins, bins=args.bins,
                                           seed=args.seed, encoding=args.encoding,
                                           format=args.format if path == STDIN else None)
            if phrases is not None:
                options["refusal_phrases"] = phrases
            made.append(profile(path, like=like, **options))
    result = merge_profiles([*profiles, *made])
    result.save(args.out)
    if not args.quiet:
        console = make_console()
        kinds_count: dict[str, int] = {}
        for k in result.kinds.values():
            kinds_count[k] = kinds_count.get(k, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(kinds_count.items()))
        console.print(f"profile of {result.source}: {result.rows:,} rows, {len(result.columns)} columns "
                      f"({summary}); grid {result.grid_id}")
        broken = {n: s for n, s in result.columns.items() if getattr(s, "status", None)}
        for name, s in broken.items():
            console.print(f"[yellow]{name}[/]: {s.status}: {s.reason}")  # type: ignore[union-attr]
        console.print(f"[dim]profile:[/] {args.out} ({os.path.getsize(args.out):,} bytes)")
    return EXIT_OK
