"""``lego augment`` on the command line: the generator the arguments ask for, progress, the summary.

The work is :func:`lego_llm.augment.augment_depot`; everything that can be
checked without a model (template, column name, vocabulary, a model that
cannot generate) is checked before any weights are loaded.
"""

from __future__ import annotations

import argparse
from typing import Any

from lego_core.cli.command import CommandContext
from lego_core.errors import ConfigError
from lego_llm.augment import augment_depot, check_request


def make_generator(args: argparse.Namespace) -> Any:
    """The generator the arguments ask for (exactly one of --model and --endpoint)."""
    from lego_llm.generation import EndpointGenerator, LocalGenerator

    if bool(args.model) == bool(args.endpoint):
        raise ConfigError(
            "lego augment: give exactly one of --model (a local causal LM) and --endpoint (an OpenAI-compatible server)"
        )
    if args.endpoint:
        return EndpointGenerator(
            args.endpoint,
            args.endpoint_model or "",
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            batch_size=args.batch_size,
            timeout=args.timeout,
            chat=args.chat_template == "on",
        )
    from lego_core.experiment import pick_device

    return LocalGenerator(
        args.model,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        device=pick_device(args.device),
        dtype=args.dtype,
        revision=args.revision,
        chat_template=args.chat_template,
    )


def _request(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "table": "users" if args.users else "items",
        "item_template": args.item_template,
        "separator": args.separator.replace("\\n", "\n").replace("\\t", "\t"),
        "max_history": args.max_history,
        "replace": args.replace,
    }


def run_command(args: argparse.Namespace, context: CommandContext) -> int:
    """``lego augment``."""
    from lego_core.engine.progress import progress_factory

    console = context.console
    request = _request(args)
    check_request(args.depot, args.template, args.column, args.vocab, **request)  # fail before loading a model
    generator = make_generator(args)
    try:
        with progress_factory(console) as progress:
            result = augment_depot(
                args.depot,
                generator,
                template=args.template,
                column=args.column,
                batch_size=args.batch_size,
                chunk_size=args.chunk_size,
                seed=args.seed,
                vocab=args.vocab,
                progress=progress,
                **request,
            )
    except KeyboardInterrupt:
        console.print(
            "stopped; the finished chunks are saved: run the same command again to continue",
            markup=False,
            soft_wrap=True,
        )
        raise
    tokens, text = result.columns
    vocab = f"new vocabulary {result.vocab!r}" if result.new_vocab else f"vocabulary {result.vocab!r}"
    noun = "item" if result.table == "items" else "user"
    rows = "items" if result.table == "items" else "user rows"
    console.print(
        f"added {noun} columns {tokens} (tokens, {vocab}, {result.unknown_share:.1%} unknown words) and "
        f"{text} (text) to {args.depot}: {result.rows:,} {rows} from {result.distinct:,} distinct "
        f"prompts, {result.generated:,} generated now, {result.resumed:,} from {result.cache.name}, in "
        f"{result.seconds:.1f}s",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if result.empty:
        context.err_console.print(
            f"warning: {result.empty:,} of the {result.distinct:,} distinct prompts generated nothing "
            "(stored as empty texts): raise --max-new-tokens or change the template, then run again with "
            "--replace",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if result.table == "items":
        console.print(
            f'Use it: [data] item_attributes = ["{tokens}", ...], or an lm template "{{{tokens}}}"',
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f'Use it: [model.behavior_options] prefix = "{{{tokens}}}" (flatten), or "{{{tokens}}}" in an '
            "llmrec prompt",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return 0


__all__ = ["make_generator", "run_command"]
