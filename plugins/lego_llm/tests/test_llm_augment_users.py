"""``lego augment --users`` (user profiles from history titles), chat templates, refusing encoders, --replace."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lego_core.cli.main import main
from lego_core.data.depot import Depot
from lego_core.errors import ConfigError
from lego_llm.augment import augment_depot
from lego_llm.generation import LocalGenerator
from lego_llm.testing import CHAT_TEMPLATE, tiny_llama


class Stop(Exception):
    pass


class Recording:
    """Answers each prompt with its length, and records the prompts."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def key_parts(self) -> dict[str, Any]:
        return {"kind": "recording"}

    def __call__(self, prompts: list[str], seed: int) -> list[str]:
        self.prompts.extend(prompts)
        return [f"profile of {len(p)} characters" for p in prompts]


def test_user_prompts_follow_the_history_and_identical_prompts_are_generated_once(depot_copy: Path) -> None:
    depot = Depot(depot_copy)
    titles = depot.items.strings("title_text")
    history = depot.users["history"]
    recording = Recording()
    result = augment_depot(
        depot_copy,
        recording,
        template="User {age} read: {history}. Profile:",
        column="profile",
        table="users",
        max_history=3,
        separator=" | ",
    )
    assert result.table == "users" and result.rows == depot.users.num_rows == 15
    last = history.row(4)[-3:]  # the three most recent items, oldest first
    age = depot.vocab("age")[int(np.asarray(depot.users["age"])[4])]
    expected = f"User {age} read: {' | '.join(titles[i] for i in last)}. Profile:"
    assert expected in recording.prompts
    after = Depot(depot_copy)
    assert after.users.kind("profile_text") == "text" and after.users.kind("profile") == "tokens"
    assert after.users.vocab_name("profile") == "words"  # the item template's {title} vocabulary
    assert after.users.strings("profile_text")[4] == f"profile of {len(expected)} characters"
    assert after.meta["added_columns"]["users.profile_text"]["item_template"] == "{title}"
    # every user row with the same category history gets one generation
    shared = Recording()
    grouped = augment_depot(
        depot_copy,
        shared,
        template="{history}",
        column="cats",
        table="users",
        item_template="{category}",
        max_history=1,
    )
    assert grouped.distinct == len(set(shared.prompts)) == len(shared.prompts) < 15


def test_user_profiles_resume_after_a_stop(depot_copy: Path, tmp_path: Path) -> None:
    reference = Path(shutil.copytree(depot_copy, tmp_path / "reference"))
    augment_depot(reference, Recording(), template="Read: {history}", column="profile", table="users", chunk_size=4)

    def stop(chunk: int, done: int, total: int) -> None:
        raise Stop

    first = Recording()
    with pytest.raises(Stop):
        augment_depot(
            depot_copy, first, template="Read: {history}", column="profile", table="users", chunk_size=4, on_chunk=stop
        )
    again = Recording()
    result = augment_depot(depot_copy, again, template="Read: {history}", column="profile", table="users", chunk_size=4)
    assert result.resumed == 4 and len(first.prompts) + len(again.prompts) == result.distinct
    assert not set(first.prompts) & set(again.prompts)
    assert Depot(depot_copy).users.strings("profile_text") == Depot(reference).users.strings("profile_text")


def test_user_template_needs_history_and_user_columns(depot_copy: Path) -> None:
    with pytest.raises(ConfigError, match=r"needs the field \{history\}"):
        augment_depot(depot_copy, Recording(), template="{age}", column="p", table="users")
    with pytest.raises(ConfigError, match="no user column 'nope'.*--users"):
        augment_depot(depot_copy, Recording(), template="{nope} {history}", column="p", table="users")


def test_replace_regenerates_a_column(depot_copy: Path) -> None:
    augment_depot(depot_copy, Recording(), template="{title}", column="rw")
    with pytest.raises(ConfigError, match="--replace"):
        augment_depot(depot_copy, Recording(), template="{title}", column="rw")
    louder = lambda prompts, seed: [p.upper() for p in prompts]  # noqa: E731
    augment_depot(depot_copy, louder, template="{title}", column="rw", replace=True)
    depot = Depot(depot_copy)
    assert depot.items.strings("rw_text") == [t.upper() for t in depot.items.strings("title_text")]


def test_chat_template_wraps_each_prompt(tmp_path: Path) -> None:
    folder = tiny_llama(tmp_path / "chat", chat_template=CHAT_TEMPLATE)
    chat = LocalGenerator(str(folder), max_new_tokens=2)
    plain = LocalGenerator(str(folder), max_new_tokens=2, chat_template="off")
    assert chat.chat and not plain.chat
    assert chat.render("hi") == "<s>[user] hi\n[assistant] " and plain.render("hi") == "hi"
    assert chat.key_parts() != plain.key_parts()
    assert len(chat(["the cat", "stock markets"], 0)) == 2
    with pytest.raises(ConfigError, match="has no chat template"):
        LocalGenerator(str(tiny_llama(tmp_path / "plain")), chat_template="on")


def test_an_encoder_is_refused_before_its_weights_load(
    bert_dir: Path, depot_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bert_dir / "model.safetensors").rename(bert_dir / "hidden.safetensors")  # loading weights would fail otherwise
    try:
        code = main(
            [
                "augment",
                "--depot",
                str(depot_copy),
                "--model",
                str(bert_dir),
                "--template",
                "{title}",
                "--column",
                "x",
                "--device",
                "cpu",
            ]
        )
    finally:
        (bert_dir / "hidden.safetensors").rename(bert_dir / "model.safetensors")
    assert code == 2
    assert "is an encoder" in capsys.readouterr().err


def test_users_on_the_command_line(depot_copy: Path, llama_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "augment",
            "--depot",
            str(depot_copy),
            "--model",
            str(llama_dir),
            "--users",
            "--template",
            "Reader of: {history}\nInterests:",
            "--item-template",
            "{category}",
            "--separator",
            "\\n",
            "--max-history",
            "4",
            "--column",
            "interests",
            "--max-new-tokens",
            "3",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "added user columns interests" in out and "flatten" in out
    assert len(Depot(depot_copy).users.strings("interests_text")) == 15


def test_the_once_preset_reads_the_generated_summaries(llama_dir: Path, depot_copy: Path) -> None:
    pytest.importorskip("lego_text")
    from lego_core.experiment import Experiment

    experiment = {
        "data": {"path": str(depot_copy), "item_attributes": ["title"], "max_history": 5},
        "model": {
            "preset": "once",
            "hidden_size": 16,
            "content_options": {"model": str(llama_dir), "dtype": "float32", "max_length": 48},
        },
        "train": {"device": "cpu"},
    }
    with pytest.raises(ConfigError, match="no item column 'summary'.*lego augment --column summary"):
        Experiment.from_dict(experiment).build(torch.device("cpu"))
    augment_depot(
        depot_copy, lambda prompts, seed: [f"about {p[:12]}" for p in prompts], column="summary", template="{title}"
    )
    model = Experiment.from_dict(experiment).build(torch.device("cpu"))
    from lego_llm.layout import item_texts

    texts = item_texts(Depot(depot_copy), model.content.layout)
    titles = Depot(depot_copy).items.strings("title_text")
    assert texts[0] == f"Title: {titles[0]}\nSummary: about {titles[0][:12]}"
    assert model.content.split_cache is not None  # DIRE's split mode over the generated text
