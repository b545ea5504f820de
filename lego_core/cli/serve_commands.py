"""``lego recommend`` and ``lego export`` (torch is imported when they run, not by ``lego --help``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from lego_core.cli.command import Command, CommandContext
from lego_core.errors import LegoError

EXPORT_FORMATS = ("npy", "parquet", "safetensors")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default="best.pt", help="best.pt (default) or last.pt")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (overrides train.device)")


# ------------------------------------------------------------------ recommend
def _recommend_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a trained run directory")
    p.add_argument("--user", required=True, metavar="ID", help="the user's original id (users.user_id of the depot)")
    p.add_argument("--k", type=int, default=10, help="how many items (default 10)")
    p.add_argument(
        "--exclude-seen",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="leave out the items the user interacted with (default: yes)",
    )
    p.add_argument(
        "--items",
        metavar="FILE",
        help="rank these new items (JSON Lines of item attributes) "
        "instead of the depot's, encoded by the trained content operator",
    )
    p.add_argument("--json", action="store_true", help="print the recommendations as JSON")
    _common(p)


def cmd_recommend(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.serve import TrainedModel

    if args.k < 1:
        raise LegoError(f"--k must be at least 1, got {args.k}")
    model = TrainedModel.load(args.run_dir, checkpoint=args.checkpoint, device=args.device, host=context.host)
    row = model.row_of(args.user)  # a wrong id fails before new items are encoded
    new = model.encode_new_items(args.items) if args.items else None
    found = model.recommend(args.user, k=args.k, exclude_seen=args.exclude_seen, items=new)
    if args.json:
        context.console.print_json(
            json.dumps({"user": args.user, "row": row, "k": args.k, "items": [r.to_dict() for r in found]})
        )
        return 0
    if new is not None:
        for column, count in new.unknown.items():
            context.err_console.print(
                f"note: {count} new items have a {column} the depot's vocabulary does not know (read as unknown)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    source = f"{len(new)} new items of {args.items}" if new is not None else "the depot's items"
    seen = " (seen items excluded)" if args.exclude_seen and new is None else ""
    table = Table(title=escape(f"top {args.k} for user {args.user} (row {row}) among {source}{seen}"))
    for column in ("rank", "item_id", "score", "title"):
        table.add_column(column, justify="right" if column in ("rank", "score") else "left", overflow="fold")
    for r in found:
        table.add_row(
            str(r.rank),
            escape(r.item_id),
            f"{r.score:.4f}",
            escape(model.title_of(r.item, new if r.new else None) or ""),
        )
    context.console.print(table)
    return 0


# ------------------------------------------------------------------ export
def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a trained run directory")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--items", action="store_true", help="every depot item's vector, with its item_id")
    which.add_argument(
        "--users",
        action="store_true",
        help="one vector per user (their row with the longest history), with its user_id",
    )
    p.add_argument(
        "--all-rows", action="store_true", help="with --users: every user row (history context), with its row index"
    )
    p.add_argument("--format", choices=EXPORT_FORMATS, default="npy", help="npy (default), parquet or safetensors")
    p.add_argument(
        "--out", metavar="FILE", help="the file to write (default RUN_DIR/export/items.FORMAT or users.FORMAT)"
    )
    _common(p)


def cmd_export(args: argparse.Namespace, context: CommandContext) -> int:
    from lego_core.serve import TrainedModel
    from lego_core.serve.export import export_vectors, require

    require(args.format)  # a missing package fails before the model is loaded
    if args.all_rows and not args.users:
        raise LegoError("--all-rows goes with --users")
    kind = "items" if args.items else "users"
    model = TrainedModel.load(args.run_dir, checkpoint=args.checkpoint, device=args.device, host=context.host)
    if args.items:
        ids, vectors = model.item_vectors()
        rows = None
    else:
        ids, rows, vectors = model.user_vectors(all_rows=args.all_rows)
    out = Path(args.out) if args.out else Path(args.run_dir) / "export" / kind
    for path in export_vectors(out, args.format, kind, ids, vectors, rows=rows, run=str(args.run_dir)):
        context.console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    context.console.print(f"{len(ids)} {kind}, {vectors.shape[1]} dimensions", markup=False, highlight=False)
    return 0


RECOMMEND = Command(
    name="recommend",
    help="top-k items for a user of a trained run (or among new items)",
    add_arguments=_recommend_arguments,
    run=cmd_recommend,
    description="The k best items for a user, by their original id, from a trained run: every "
    "item encoded once, then scored; the user's seen items are left out. --items "
    "ranks new items from a file of their attributes, without retraining.",
)
EXPORT = Command(
    name="export",
    help="write a trained run's item or user vectors with their ids",
    add_arguments=_export_arguments,
    run=cmd_export,
    description="Write the item (or user) vectors of a trained run with their original ids as npy, "
    "parquet or safetensors, for retrieval indexes and analysis outside lego.",
)
