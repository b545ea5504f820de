"""``lego augment``: new item columns from a local LLM or an HTTP endpoint, resumable, usable by experiments."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lego_core.cli.main import main
from lego_core.data.add_columns import add_item_columns
from lego_core.data.depot import Column, Depot, text_column
from lego_core.data.ragged import Ragged
from lego_core.data.vocab import tokenize
from lego_core.errors import ConfigError, DataError, LegoError
from lego_core.experiment import Experiment
from lego_llm.augment import augment_depot, read_progress
from lego_llm.generation import EndpointGenerator, LocalGenerator

TEMPLATE = "Rewrite this news title: {title}"


class Stop(Exception):
    pass


class Counting:
    """A generator wrapper that records every prompt it is asked for."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.prompts: list[str] = []

    def key_parts(self) -> dict[str, Any]:
        return self.inner.key_parts()

    def __call__(self, prompts: list[str], seed: int) -> list[str]:
        self.prompts.extend(prompts)
        return self.inner(prompts, seed)


@pytest.fixture(scope="module")
def llama(llama_dir: Path) -> LocalGenerator:
    return LocalGenerator(str(llama_dir), max_new_tokens=4)


def test_add_item_columns_checks_rows_names_and_ids(depot_copy: Path) -> None:
    n = Depot(depot_copy).items.num_rows
    with pytest.raises(DataError) as err:
        add_item_columns(
            depot_copy,
            {
                "title": text_column(["x"] * n),
                "short": text_column(["x"] * 3),
                "bad name": text_column(["x"] * n),
                "ids": Column(kind="tokens", data=Ragged.from_lists([[10**6]] * n), vocab="words"),
                "orphan": Column(kind="tokens", data=Ragged.from_lists([[1]] * n), vocab="nope"),
            },
        )
    message = str(err.value)
    for expected in (
        "already has a column 'title'",
        "'short' has 3 rows, the item table 60",
        "'bad name'",
        "outside 0..",
        "vocabulary 'nope'",
    ):
        assert expected in message
    assert "short" not in Depot(depot_copy).items  # nothing was added
    depot = add_item_columns(
        depot_copy,
        {"tags": Column(kind="tokens", data=Ragged.from_lists([[2, 3]] * n), vocab="tags")},
        vocabs={"tags": ["<pad>", "<unk>", "a", "b"]},
        provenance={"by": "test"},
    )
    assert depot.items.kind("tags") == "tokens" and depot.vocab("tags")[2:] == ["a", "b"]
    assert depot.meta["vocabs"]["tags"] == 4 and depot.meta["added_columns"]["tags"] == {"by": "test"}
    assert not [p for p in (depot_copy / "items").iterdir() if p.name.startswith(".")]  # no temp files left


def test_augment_cli_with_tiny_llama_then_info_and_an_experiment(
    capsys: pytest.CaptureFixture[str], llama_dir: Path, bert_dir: Path, depot_copy: Path, tmp_path: Path
) -> None:
    code = main(
        [
            "augment",
            "--depot",
            str(depot_copy),
            "--model",
            str(llama_dir),
            "--template",
            TEMPLATE,
            "--column",
            "rewritten",
            "--max-new-tokens",
            "5",
            "--batch-size",
            "16",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "added item columns rewritten (tokens, vocabulary 'words'" in out
    depot = Depot(depot_copy)
    texts = depot.items.strings("rewritten_text")
    assert len(texts) == 60 and depot.items.vocab_name("rewritten") == "words"
    words = depot.vocab("words")
    column = depot.items["rewritten"]
    assert [[words[i] if i > 1 else "<unk>" for i in column.row(r)] for r in range(3)] == [
        [w if w in words else "<unk>" for w in tokenize(t)] for t in texts[:3]
    ]
    assert main(["data", "info", str(depot_copy)]) == 0
    info = capsys.readouterr().out
    assert "rewritten " in info and "rewritten_text" in info
    assert main(["data", "info", str(depot_copy), "--json"]) == 0
    schema = json.loads(capsys.readouterr().out)["tables"]["items"]["columns"]
    assert schema["rewritten"]["kind"] == "tokens" and schema["rewritten_text"]["kind"] == "text"
    exp = Experiment.from_dict(
        {
            "data": {"path": str(depot_copy), "item_attributes": ["rewritten"], "max_history": 10, "max_length": 8},
            "model": {
                "content": "lm",
                "behavior": "mean",
                "predictor": "dot",
                "hidden_size": 16,
                "content_options": {"model": str(bert_dir), "max_length": 16, "tune_from": -1},
            },
            "train": {
                "epochs": 1,
                "batch_size": 8,
                "max_steps_per_epoch": 2,
                "device": "cpu",
                "metrics": ["auc"],
                "monitor": "auc",
            },
        }
    )
    results = exp.run(output=tmp_path / "runs")
    assert np.isfinite(results["test"]["auc"])
    rewritten = exp.model.items.tokens["rewritten"]  # the tokens column, loaded as an attribute
    assert rewritten.shape[0] == 60 and 1 <= rewritten.shape[1] <= 8  # cut to max_length, or the longest row
    assert exp.model.content.layout.template == "rewritten: {rewritten}"  # the lm operator reads rewritten_text


def test_interrupted_run_resumes_without_generating_an_item_twice(
    llama: LocalGenerator, depot_copy: Path, tmp_path: Path
) -> None:
    import shutil

    reference_depot = Path(shutil.copytree(depot_copy, tmp_path / "reference"))
    reference = augment_depot(reference_depot, llama, template=TEMPLATE, column="rw", chunk_size=16, batch_size=5)
    assert reference.generated == 60 and reference.resumed == 0

    counting = Counting(llama)

    def stop_after_first(chunk: int, done: int, total: int) -> None:
        assert total == 4  # 16 + 16 + 16 + 12 items
        raise Stop

    with pytest.raises(Stop):
        augment_depot(
            depot_copy, counting, template=TEMPLATE, column="rw", chunk_size=16, batch_size=5, on_chunk=stop_after_first
        )
    assert len(counting.prompts) == 16 and "rw" not in Depot(depot_copy).items
    (cache,) = (depot_copy / "cache").glob("augment-*")
    with open(cache / "chunks.jsonl", "ab") as handle:  # a crash in the middle of writing a line
        handle.write(b'{"chunk": 1, "start": 16, "texts": ["torn')
    result = augment_depot(depot_copy, counting, template=TEMPLATE, column="rw", chunk_size=16, batch_size=5)
    assert result.resumed == 16 and result.generated == 44 and result.cache == cache
    assert len(counting.prompts) == 60 and len(set(counting.prompts)) == len(
        set(Depot(depot_copy).items.strings("title_text"))
    )  # every item once: 16 before the stop, 44 after
    assert sorted(counting.prompts) == sorted(
        TEMPLATE.format(title=t) for t in Depot(depot_copy).items.strings("title_text")
    )
    texts = Depot(depot_copy).items.strings("rw_text")
    assert texts == Depot(reference_depot).items.strings("rw_text")  # same as the run that never stopped
    assert len(read_progress(cache / "chunks.jsonl", [16, 16, 16, 12])) == 4
    assert (cache / "chunks.jsonl").read_bytes().count(b"\n") == 4  # the torn line is gone
    # everything cached: another column from the same generations costs no generation
    again = augment_depot(depot_copy, counting, template=TEMPLATE, column="rw2", chunk_size=16, batch_size=5)
    assert again.generated == 0 and len(counting.prompts) == 60


def test_the_cache_key_covers_the_generation_settings(llama_dir: Path, depot_copy: Path) -> None:
    def folder(generator: Any, column: str, **options: Any) -> str:
        return augment_depot(
            depot_copy, generator, template=options.pop("template", "{title}"), column=column, **options
        ).cache.name

    base = LocalGenerator(str(llama_dir), max_new_tokens=2)
    names = [
        folder(base, "a"),
        folder(base, "b", seed=1),
        folder(base, "c", template="News: {title}"),
        folder(LocalGenerator(str(llama_dir), max_new_tokens=3), "d"),
        folder(LocalGenerator(str(llama_dir), max_new_tokens=2, temperature=0.7), "e"),
    ]
    assert len(set(names)) == len(names)
    assert folder(base, "f") == names[0]


def test_vocabulary_choices_and_name_errors(depot_copy: Path) -> None:
    echo = lambda prompts, seed: [f"zzyzx {p}" for p in prompts]  # noqa: E731
    shared = augment_depot(depot_copy, echo, template="{category}", column="echo")
    assert shared.vocab == "words" and not shared.new_vocab  # the depot's most used text vocabulary
    assert shared.unknown_share == 1.0  # "zzyzx" and the category names are no title words
    titles = augment_depot(depot_copy, echo, template="{title}", column="titles")
    assert titles.vocab == "words" and 0.0 < titles.unknown_share < 0.5  # only "zzyzx" is unknown
    own = augment_depot(depot_copy, echo, template="{title}", column="own", vocab="new")
    depot = Depot(depot_copy)
    assert own.vocab == "own" and depot.items.vocab_name("own") == "own" and "zzyzx" in depot.vocab("own")
    assert own.unknown_share == 0.0
    with pytest.raises(ConfigError, match="already has echo, echo_text"):
        augment_depot(depot_copy, echo, template="{title}", column="echo")
    with pytest.raises(ConfigError, match="--vocab 'nope'"):
        augment_depot(depot_copy, echo, template="{title}", column="x", vocab="nope")
    with pytest.raises(ConfigError, match="no item column 'nope'"):
        augment_depot(depot_copy, echo, template="{nope}", column="x")


# ------------------------------------------------------------------ the HTTP endpoint


class FakeServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible ``/v1/completions`` that echoes the last word of the prompt."""

    bodies: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append({**body, "path": self.path, "auth": self.headers.get("Authorization")})
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": "model not found"}')
            return
        answer = {
            "object": "text_completion",
            "model": body["model"],
            "choices": [{"index": 0, "text": f" about {body['prompt'].split()[-1]}\n", "finish_reason": "stop"}],
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for variable in ("http_proxy", "HTTP_PROXY", "OPENAI_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    FakeServer.bodies, FakeServer.status = [], 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeServer)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_endpoint_cli_writes_the_answers(
    capsys: pytest.CaptureFixture[str], server: str, depot_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    code = main(
        [
            "augment",
            "--depot",
            str(depot_copy),
            "--endpoint",
            server,
            "--endpoint-model",
            "llama-3-8b",
            "--template",
            "Topic of {title} in {category}",
            "--column",
            "topic",
            "--max-new-tokens",
            "7",
            "--batch-size",
            "4",
            "--seed",
            "5",
        ]
    )
    assert code == 0, capsys.readouterr().err
    depot = Depot(depot_copy)
    categories = [depot.vocab("category")[i] for i in np.asarray(depot.items["category"])]
    assert depot.items.strings("topic_text") == [f"about {c}" for c in categories]
    assert len(FakeServer.bodies) == 60
    body = FakeServer.bodies[0]
    assert body["path"] == "/v1/completions" and body["model"] == "llama-3-8b" and body["max_tokens"] == 7
    assert body["temperature"] == 0.0 and body["auth"] == "Bearer secret"
    assert sorted(b["seed"] for b in FakeServer.bodies) == list(range(5, 65))  # one seed per item


def test_endpoint_errors_are_lego_errors(server: str, depot_copy: Path) -> None:
    FakeServer.status = 404
    generator = EndpointGenerator(server + "/v1", "missing", max_new_tokens=2, retry_wait=0.0)
    with pytest.raises(LegoError, match="answered HTTP 404 .*model not found"):
        augment_depot(depot_copy, generator, template="{title}", column="x")
    prompts = [b["prompt"] for b in FakeServer.bodies]
    assert len(prompts) <= 8 and len(set(prompts)) == len(prompts)  # one batch in flight; a 4xx is not retried
    unreachable = EndpointGenerator("http://127.0.0.1:9", "m", retry_wait=0.0)
    with pytest.raises(LegoError, match="cannot reach http://127.0.0.1:9/v1/completions"):
        unreachable(["hello"], 0)


def test_exactly_one_generator(capsys: pytest.CaptureFixture[str], depot_copy: Path) -> None:
    assert main(["augment", "--depot", str(depot_copy), "--template", "{title}", "--column", "y"]) == 2
    assert "give exactly one of --model" in capsys.readouterr().err
