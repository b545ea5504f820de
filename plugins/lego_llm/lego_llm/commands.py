"""lego-llm's commands, ``lego embed``, ``lego augment`` and ``lego images``: arguments here, work in their modules.

This module is imported by ``lego --help``, so it stays light (argparse only):
torch, transformers and the work itself are imported when a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from lego_core.cli.command import Command, CommandContext
from lego_llm.families import FAMILY_NAMES

# the same names as lego_llm.loading.DTYPES and lego_llm.pooling.POOLINGS (a test keeps them equal);
# repeated here because those modules import torch
DTYPE_NAMES = ("float32", "bfloat16", "float16")
POOLING_NAMES = ("cls", "mean", "last")


def embed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depot", required=True, help="the depot folder")
    parser.add_argument("--model", required=True, help="a checkpoint folder (save_pretrained) or a Hugging Face hub id")
    parser.add_argument(
        "--attributes",
        default="title",
        help="item columns joined as 'name: value' when there is no --template (default: title)",
    )
    parser.add_argument("--template", help='item text over item columns, e.g. "Title: {title} Category: {category}"')
    parser.add_argument("--pooling", choices=POOLING_NAMES, help="default per family: encoders mean, decoders last")
    parser.add_argument("--max-length", type=int, default=64, help="tokens kept per item (default 64)")
    parser.add_argument("--batch-size", type=int, default=64, help="items per forward pass (default 64)")
    parser.add_argument("--name", help="file name under <depot>/embeddings/ (default: from the model's name)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default)")
    parser.add_argument(
        "--dtype", choices=DTYPE_NAMES, default="float32", help="dtype the model runs in (the file is float32)"
    )
    parser.add_argument("--revision", help="hub revision of a hub id")
    parser.add_argument("--family", choices=FAMILY_NAMES, default="auto", help="force another family's defaults")
    parser.add_argument("--normalize", action="store_true", help="L2-normalise every vector")


def augment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depot", required=True, help="the depot folder")
    parser.add_argument(
        "--template",
        required=True,
        help='the prompt over item columns, e.g. "Rewrite this news title: {title}"; with --users '
        'over user columns and {history}, e.g. "Describe this reader. They read: {history}"',
    )
    parser.add_argument("--column", required=True, help="the new column (also <column>_text with the raw text)")
    parser.add_argument(
        "--users",
        action="store_true",
        help="generate a user column (one prompt per user row, from its history) instead of an item one",
    )
    parser.add_argument(
        "--item-template",
        default="{title}",
        help="--users: how each history item is written in {history} (default {title})",
    )
    parser.add_argument(
        "--separator",
        default="\\n",
        help="--users: between the history items (default a newline; escapes like \\n are read)",
    )
    parser.add_argument(
        "--max-history", type=int, default=20, help="--users: most recent history items in the prompt (default 20)"
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="regenerate columns the table already has (caches of the old contents are not reused)",
    )
    parser.add_argument(
        "--chat-template",
        choices=("auto", "on", "off"),
        default="auto",
        help="wrap each prompt as a user message: auto (default) when the local tokenizer has a "
        "chat template; with --endpoint, on sends /v1/chat/completions",
    )
    source = parser.add_argument_group("generator (one of)")
    source.add_argument("--model", help="a local causal LM: checkpoint folder or Hugging Face hub id")
    source.add_argument(
        "--endpoint",
        help="an OpenAI-compatible server, e.g. http://127.0.0.1:8000 (vLLM, Ollama); "
        "POST /v1/completions, API key from $OPENAI_API_KEY if set (sent over https or "
        "to loopback only; redirects to another origin are refused)",
    )
    source.add_argument("--endpoint-model", help="the model name the endpoint serves")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="tokens generated per item (default 32)")
    parser.add_argument(
        "--batch-size", type=int, default=8, help="prompts per generate call / requests in flight (default 8)"
    )
    parser.add_argument("--chunk-size", type=int, default=256, help="items per saved chunk (default 256)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 (default): greedy; > 0: sampling")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1.0)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of sampling (default 0)")
    parser.add_argument(
        "--vocab",
        default="auto",
        help="word vocabulary of the tokens column: \"auto\" (default: the template's text column's), "
        '"new" (a vocabulary of its own) or a vocabulary name',
    )
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (local model)")
    parser.add_argument("--dtype", choices=DTYPE_NAMES, default="float32", help="dtype of the local model")
    parser.add_argument("--revision", help="hub revision of a hub id")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per endpoint request (default 120)")


def images_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depot", required=True, help="the depot folder")
    parser.add_argument("--folder", required=True, help="the folder of image files")
    parser.add_argument(
        "--pattern",
        default="{item_id}.jpg",
        help='each item\'s file name, over {item_id} (its original id) or {row} (default "{item_id}.jpg")',
    )
    parser.add_argument("--column", default="image", help="the new item column (default image)")
    parser.add_argument(
        "--copy",
        action="store_true",
        help="store the files' bytes in the depot (default: paths, read from --folder when needed)",
    )
    parser.add_argument("--replace", action="store_true", help="replace an image column the depot already has")


def _embed(args: argparse.Namespace, context: CommandContext) -> Any:
    from lego_llm.embed import run_command

    return run_command(args, context)


def _augment(args: argparse.Namespace, context: CommandContext) -> Any:
    from lego_llm.augment_cli import run_command

    return run_command(args, context)


def _images(args: argparse.Namespace, context: CommandContext) -> Any:
    from lego_llm.image_folder import run_command

    return run_command(args, context)


EMBED = Command(
    name="embed",
    help="encode every item once with a frozen language model into <depot>/embeddings/",
    add_arguments=embed_arguments,
    run=_embed,
)
AUGMENT = Command(
    name="augment",
    help="generate a new item (or --users: user) column with a language model (ONCE)",
    add_arguments=augment_arguments,
    run=_augment,
)
IMAGES = Command(
    name="images",
    help="add an item image column to a depot from a folder of image files",
    add_arguments=images_arguments,
    run=_images,
)
