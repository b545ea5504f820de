"""``lego augment --endpoint`` safety: where the API key goes, redirects, empty or non-text answers.

Every server here is a local ``http.server`` on 127.0.0.1; a second server on another port is
another origin (same scheme and host, another port).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lego_core.data.depot import Depot
from lego_core.errors import ConfigError, DataError, LegoError
from lego_llm.augment import augment_depot
from lego_llm.generation import EndpointGenerator, LocalGenerator

# (handler, path, body) -> (status, headers, JSON answer or None)
Behaviour = Callable[[BaseHTTPRequestHandler, str, dict[str, Any]], tuple[int, dict[str, str], Any]]


def completion(text: Any) -> dict[str, Any]:
    return {"object": "text_completion", "choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}


def echo(handler: BaseHTTPRequestHandler, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    return 200, {}, completion(f" about {body['prompt'].split()[-1]}")


class Server:
    """A local server that records every request (path, Authorization header, body) and answers by ``behaviour``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.behaviour: Behaviour = echo
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                server.requests.append(
                    {"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                status, headers, answer = server.behaviour(self, self.path, body)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = _answer
            do_GET = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Server, Server]]:
    for variable in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(variable, raising=False)
    first, second = Server(), Server()
    yield first, second
    first.close()
    second.close()


def generator(url: str, **options: Any) -> EndpointGenerator:
    return EndpointGenerator(url, "m", max_new_tokens=4, retry_wait=0.0, **options)


# ------------------------------------------------------------------ the API key's transport


@pytest.mark.parametrize("url", ["http://example.com:8000", "http://10.0.0.5/v1", "http://[2001:db8::1]:80"])
def test_a_key_is_never_sent_over_plain_http_to_another_machine(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY is set and would travel unencrypted .*use an https URL"):
        generator(url)
    monkeypatch.delenv("OPENAI_API_KEY")
    assert generator(url).api_key is None  # without a key, plain http anywhere is the user's choice


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com",
        "http://127.0.0.1:8000",
        "http://127.3.2.1",
        "http://[::1]:8000",
        "http://localhost:8000",
        "http://LOCALHOST.",
    ],
)
def test_a_key_may_go_over_https_or_to_loopback(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    assert generator(url).api_key == "secret"


def test_a_loopback_request_bypasses_a_proxy(servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch) -> None:
    server, proxy = servers
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    monkeypatch.setenv("http_proxy", proxy.url)
    assert generator(server.url)(["the cat"], 0) == ["about cat"]
    assert proxy.requests == [] and server.requests[0]["auth"] == "Bearer secret"


# ------------------------------------------------------------------ redirects


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_refused(
    code: int, servers: tuple[Server, Server], depot_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, other = servers
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    server.behaviour = lambda h, path, body: (code, {"Location": other.url + "/v1/completions"}, None)
    with pytest.raises(LegoError, match=rf"redirected \(HTTP {code}\) to {other.url}/v1/completions, another origin"):
        augment_depot(depot_copy, generator(server.url), template="{title}", column="x")
    assert other.requests == []  # neither the key nor a prompt reached the other origin
    assert len(server.requests) <= 8  # one batch in flight, none retried
    assert "x" not in Depot(depot_copy).items and "x_text" not in Depot(depot_copy).items


def test_a_redirect_within_the_origin_repeats_the_post_with_its_key(
    servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = servers
    monkeypatch.setenv("OPENAI_API_KEY", "secret")

    def moved(handler: BaseHTTPRequestHandler, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if path == "/v1/completions":
            return 307, {"Location": "/new/v1/completions"}, None
        return echo(handler, path, body)

    server.behaviour = moved
    assert generator(server.url)(["the cat"], 0) == ["about cat"]
    first, second = server.requests
    assert second["path"] == "/new/v1/completions" and second["method"] == "POST"
    assert second["auth"] == "Bearer secret" and second["body"] == first["body"]


# ------------------------------------------------------------------ answers without text


@pytest.mark.parametrize(
    ("text", "what"),
    [(None, "a NoneType"), ("", "an empty text"), ("  \n", "an empty text"), (42, "a int"), (["a"], "a list")],
)
def test_null_empty_or_non_text_answers_are_retried_then_refused(
    text: Any, what: str, servers: tuple[Server, Server], depot_copy: Path
) -> None:
    server, _ = servers
    server.behaviour = lambda h, path, body: (200, {}, completion(text))
    endpoint = generator(server.url, batch_size=1)
    with pytest.raises(LegoError, match=f"answered {what}.* 3 times; nothing is stored"):
        augment_depot(depot_copy, endpoint, template="{title}", column="x", batch_size=1)
    assert len(server.requests) == 3  # the first prompt, tried 3 times, then the run stops
    assert "x_text" not in Depot(depot_copy).items


def test_a_null_answer_followed_by_text_is_retried(servers: tuple[Server, Server]) -> None:
    server, _ = servers
    answers = iter([None, "", " the answer "])
    server.behaviour = lambda h, path, body: (200, {}, completion(next(answers)))
    assert generator(server.url)(["q"], 0) == ["the answer"]
    assert len(server.requests) == 3


def test_a_chat_answer_with_null_content_is_refused(servers: tuple[Server, Server]) -> None:
    server, _ = servers
    server.behaviour = lambda h, path, body: (
        200,
        {},
        {"choices": [{"message": {"role": "assistant", "content": None}}]},
    )
    with pytest.raises(LegoError, match=r"a NoneType \(null\) as choices\[0\]\.message\.content"):
        generator(server.url, chat=True)(["q"], 0)


class Answers:
    """A generator that answers ``bad`` for one prompt and the prompt's last word otherwise."""

    def __init__(self, bad_prompt: str, bad: Any) -> None:
        self.bad_prompt, self.bad = bad_prompt, bad

    def key_parts(self) -> dict[str, Any]:
        return {"kind": "answers"}

    def __call__(self, prompts: list[str], seed: int) -> list[Any]:
        return [self.bad if p == self.bad_prompt else p.split()[-1] for p in prompts]


@pytest.mark.parametrize("bad", [None, 3.5, ["text"]])
def test_any_generator_s_non_text_answer_is_never_stored(bad: Any, depot_copy: Path) -> None:
    titles = Depot(depot_copy).items.strings("title_text")
    with pytest.raises(DataError, match=f"returned a {type(bad).__name__}, not a text.*nothing is stored for it"):
        augment_depot(depot_copy, Answers(titles[-1], bad), template="{title}", column="x", chunk_size=10)
    assert "x_text" not in Depot(depot_copy).items
    caches = list((depot_copy / "cache").glob("augment-*/chunks.jsonl"))
    assert len(caches) == 1
    records = [json.loads(line) for line in caches[0].read_text().splitlines()]
    stored = [t for record in records for t in record["texts"]]
    assert records and all(isinstance(t, str) and t.strip() for t in stored)  # finished chunks: real text only
    assert str(bad) not in stored


def test_a_local_model_s_empty_generation_is_kept_and_counted(depot_copy: Path) -> None:
    # greedy decoding would repeat it, so stopping would leave no way forward: it is stored and reported
    titles = Depot(depot_copy).items.strings("title_text")
    result = augment_depot(depot_copy, Answers(titles[0], ""), template="{title}", column="x")
    assert result.empty == 1
    assert Depot(depot_copy).items.strings("x_text").count("") == titles.count(titles[0])


# ------------------------------------------------------------------ a model that cannot generate


def test_an_encoder_decoder_is_refused_from_its_config_alone(tmp_path: Path) -> None:
    from transformers import T5Config

    T5Config(d_model=16, num_layers=1, num_heads=2, d_ff=32, vocab_size=64).save_pretrained(tmp_path / "t5")
    # the folder has no weights and no tokenizer: the refusal comes before anything is loaded
    with pytest.raises(ConfigError, match="'t5' checkpoint is an encoder-decoder; this needs a decoder-only"):
        LocalGenerator(str(tmp_path / "t5"))


def test_on_the_command_line_the_refusal_is_one_line_before_any_request(
    depot_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lego_core.cli.main import main

    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    code = main(
        [
            "augment",
            "--depot",
            str(depot_copy),
            "--endpoint",
            "http://example.com:8000",
            "--endpoint-model",
            "m",
            "--template",
            "{title}",
            "--column",
            "x",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "would travel unencrypted to example.com" in err and len(err.splitlines()) == 1
    assert "secret" not in err  # the message names the variable, never its value
    assert list(depot_copy.glob("cache/augment-*")) == []  # refused before any work
