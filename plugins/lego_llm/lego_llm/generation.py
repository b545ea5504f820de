"""Text generators for ``lego augment``: a local causal LM, or an OpenAI-compatible HTTP endpoint.

Both are called as ``generator(prompts, seed) -> texts`` (one output per
prompt, in order) and describe themselves with ``key_parts()``, everything
their outputs depend on (part of the resumable cache's key).

- :class:`LocalGenerator`: ``AutoModelForCausalLM.generate`` on a batch of
  prompts, left-padded (a decoder continues from the last position of every
  row), greedy unless ``temperature > 0``; the random state is seeded per
  call inside :func:`torch.random.fork_rng`, so the caller's RNG is untouched
  and a resumed run draws the same samples. The output is the decoded new
  tokens, special tokens skipped, stripped. When the tokenizer has a chat
  template (``chat_template = "auto"``, or ``"on"`` to insist) each prompt is
  sent as one user message through ``tokenizer.apply_chat_template(...,
  add_generation_prompt=True)``, which instruction-tuned models expect; the
  rendered text carries the model's own special tokens, so none are added
  again. A checkpoint that cannot continue text (an encoder such as BERT, an
  encoder-decoder such as T5) is refused from its config, before any weight
  is loaded.
- :class:`EndpointGenerator`: ``POST {endpoint}/v1/completions`` (vLLM,
  Ollama, llama.cpp server, ... started by the user; ``chat = True``:
  ``/v1/chat/completions`` with one user message, the server applying the
  model's chat template) with the standard library's :mod:`urllib`, one
  prompt per request and ``batch_size`` requests in flight (threads).
  ``temperature = 0`` is greedy; ``seed`` is sent, which servers that support
  it use. An API key is read from the environment variable ``OPENAI_API_KEY``
  when set (sent as a bearer token) and only over https or plain http to a
  loopback host (``127.0.0.0/8``, ``::1``, ``localhost``; such a URL bypasses any
  proxy); any other http URL is refused while a key is set. A redirect is
  followed only within the endpoint's origin (scheme, host and port); one to
  another origin is refused (the key and the prompts reach only the server
  named), rather than followed with the key dropped. Connection failures, 429
  and 5xx answers are retried twice; other errors stop with the server's
  answer quoted. An answer whose text is missing, null, not a string or empty
  is retried twice too, then stops the run: it is never stored.

Example:
    >>> EndpointGenerator("http://127.0.0.1:8000/v1", "m", max_new_tokens=8).url
    'http://127.0.0.1:8000/v1/completions'
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from lego_core.errors import ConfigError, LegoError
from lego_llm.families import family_of
from lego_llm.loading import (
    Source,
    config_digest,
    load_model,
    load_tokenizer,
    resolve_source,
    tokenizer_digest,
    weights_digest,
)

CHAT_CHOICES = ("auto", "on", "off")

RETRIES = 2
API_KEY_VARIABLE = "OPENAI_API_KEY"


LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a URL's host name, brackets removed) is this machine: plain http to it stays local.

    Example:
        >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.8.0.1", "10.0.0.1", "example.com")]
        [True, True, True, True, False, False]
    """
    if not host:
        return False
    host = host.lower().rstrip(".")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin(url: str) -> tuple[str, str, int]:
    """A URL's origin, ``(scheme, host, port)``, the port made explicit.

    Example:
        >>> origin("HTTPS://Api.Example.com/v1/completions")
        ('https', 'api.example.com', 443)
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only within one origin; one to another origin stops the run with a clear error.

    ``urllib``'s own handler keeps every header (the API key's included) on a redirect to
    any host. A 307/308 within the origin repeats the POST with its body and headers.
    """

    def __init__(self, allowed: tuple[str, str, int]) -> None:
        self.allowed = allowed

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        target = urllib.parse.urljoin(req.full_url, newurl)
        if origin(target) != self.allowed:
            fp.close()
            raise LegoError(
                f"lego augment --endpoint: {req.full_url} redirected (HTTP {code}) to {target}, another "
                "origin; it is not followed, so the API key and the prompts go only to the server you "
                "named: give the URL it redirects to as --endpoint if you trust it"
            )
        if code in (307, 308) and req.get_method() == "POST":
            return urllib.request.Request(target, data=req.data, headers=dict(req.headers), method="POST")
        return super().redirect_request(req, fp, code, msg, headers, target)


def _check_sampling(max_new_tokens: int, temperature: float, top_p: float) -> None:
    if max_new_tokens <= 0:
        raise ConfigError(f"lego augment --max-new-tokens {max_new_tokens}: must be positive")
    if temperature < 0:
        raise ConfigError(f"lego augment --temperature {temperature}: must be >= 0 (0 is greedy decoding)")
    if not 0 < top_p <= 1:
        raise ConfigError(f"lego augment --top-p {top_p}: must be in (0, 1]")


def check_generative(source: Source, where: str = "lego augment --model") -> None:
    """Refuse, from the config alone, a checkpoint that cannot continue text (before its weights load)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source.location, revision=source.revision)
    except (OSError, ValueError):
        return  # load_model reports a checkpoint that cannot be found, with what to do
    model_type = getattr(config, "model_type", "?")
    if getattr(config, "is_encoder_decoder", False):
        raise ConfigError(
            f"{where} = {source.label!r}: a {model_type!r} checkpoint is an encoder-decoder; "
            "this needs a decoder-only causal LM that continues a prompt (LLaMA, Qwen, Mistral, "
            "GPT-2, OPT, Phi, GLM, ...)"
        )
    if not family_of(model_type, "auto", config).decoder:
        raise ConfigError(
            f"{where} = {source.label!r}: a {model_type!r} checkpoint is an encoder (it reads text, "
            "it does not continue it) and would generate noise; give a causal LM (LLaMA, Qwen, "
            "Mistral, GPT-2, OPT, Phi, GLM, ...)"
        )


class LocalGenerator:
    """A local causal language model (a checkpoint folder or a hub id), batched ``generate``.

    Args:
        model: checkpoint folder or hub id.
        max_new_tokens: tokens generated per prompt at most.
        temperature: 0 (default) decodes greedily; above 0 samples.
        top_p: nucleus sampling mass (only when sampling).
        device: a torch device.
        dtype: ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        revision: hub revision.
        chat_template: ``"auto"`` (the tokenizer's chat template when it has one), ``"on"`` (an error
            without one), ``"off"`` (plain prompts).
    """

    def __init__(
        self,
        model: str,
        *,
        max_new_tokens: int = 32,
        temperature: float = 0.0,
        top_p: float = 1.0,
        device: str | torch.device = "cpu",
        dtype: str = "float32",
        revision: str | None = None,
        chat_template: str = "auto",
    ) -> None:
        _check_sampling(max_new_tokens, temperature, top_p)
        where = "lego augment --model"
        if chat_template not in CHAT_CHOICES:
            raise ConfigError(
                f"lego augment --chat-template {chat_template!r}: choose one of {', '.join(CHAT_CHOICES)}"
            )
        self.source = resolve_source(model, revision, where)
        check_generative(self.source, where)
        self.tokenizer = load_tokenizer(self.source, where)
        self.tokenizer.padding_side = "left"
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if chat_template == "on" and not has_template:
            raise ConfigError(
                f"lego augment --chat-template on: the tokenizer of {model!r} has no chat template; "
                "use --chat-template off (plain prompts) or an instruction-tuned checkpoint"
            )
        self.chat = has_template and chat_template != "off"
        self.model = load_model(self.source, dtype, where, causal_lm=True).to(device).eval()
        config = self.model.generation_config
        self.eos_id = config.eos_token_id if config.eos_token_id is not None else self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = (
                self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else self.tokenizer.unk_token_id
            )
            if pad is None:
                raise ConfigError(f"{where} = {model!r}: the tokenizer has no pad, EOS or UNK token to pad with")
        self.pad_id = int(pad)
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.dtype = dtype

    def key_parts(self) -> dict[str, Any]:
        return {
            "kind": "local",
            "model": self.source.label,
            "revision": self.source.revision,
            "config": config_digest(self.model.config),
            "weights": weights_digest([("", self.model)]),
            "dtype": self.dtype,
            "tokenizer": tokenizer_digest(self.tokenizer),
            "chat_template": self.tokenizer.chat_template if self.chat else None,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }

    def render(self, prompt: str) -> str:
        """The text the model continues: the prompt, or the chat template's user turn and assistant opening."""
        if not self.chat:
            return prompt
        return str(
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        )

    def __call__(self, prompts: Sequence[str], seed: int) -> list[str]:
        from transformers import GenerationConfig

        sample = self.temperature > 0
        config = GenerationConfig(
            max_new_tokens=self.max_new_tokens,
            do_sample=sample,
            temperature=self.temperature if sample else None,
            top_p=self.top_p if sample else None,
            top_k=None,
            pad_token_id=self.pad_id,
            eos_token_id=self.eos_id,
        )
        device = next(self.model.parameters()).device
        texts = [self.render(p) for p in prompts]
        # a rendered chat template already holds the model's special tokens (BOS, turn markers)
        batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not self.chat).to(device)
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], generation_config=config
            )
        new = out[:, batch["input_ids"].shape[1] :]
        return [text.strip() for text in self.tokenizer.batch_decode(new, skip_special_tokens=True)]


class EndpointGenerator:
    """An OpenAI-compatible completions endpoint, e.g. ``vllm serve`` or Ollama.

    Args:
        endpoint: the server's base URL (``http://host:8000`` or ``http://host:8000/v1``).
        model: the model name the server knows (``--endpoint-model``).
        max_new_tokens: ``max_tokens`` per request.
        temperature, top_p: sampling settings (0 = greedy).
        batch_size: requests in flight at once.
        timeout: seconds per request.
        chat: send ``/v1/chat/completions`` with the prompt as one user message (the server applies
            the model's chat template) instead of ``/v1/completions``.
    """

    def __init__(
        self,
        endpoint: str,
        model: str,
        *,
        max_new_tokens: int = 32,
        temperature: float = 0.0,
        top_p: float = 1.0,
        batch_size: int = 8,
        timeout: float = 120.0,
        retry_wait: float = 1.0,
        chat: bool = False,
    ) -> None:
        _check_sampling(max_new_tokens, temperature, top_p)
        parts = urllib.parse.urlsplit(endpoint)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"lego augment --endpoint {endpoint!r}: give the server's URL, e.g. http://127.0.0.1:8000"
            )
        self.api_key = os.environ.get(API_KEY_VARIABLE) or None
        local = is_loopback(parts.hostname)
        if self.api_key and parts.scheme.lower() == "http" and not local:
            raise ConfigError(
                f"lego augment --endpoint {endpoint!r}: ${API_KEY_VARIABLE} is set and would travel "
                f"unencrypted to {parts.hostname}; use an https URL, or unset ${API_KEY_VARIABLE} "
                "for a server that needs no key (plain http carries a key only to 127.0.0.1, ::1 or "
                "localhost)"
            )
        if not model:
            raise ConfigError("lego augment --endpoint needs --endpoint-model (the model name the server serves)")
        base = endpoint.rstrip("/")
        path = "chat/completions" if chat else "completions"
        self.chat = chat
        self.url = f"{base}/{path}" if base.endswith("/v1") else f"{base}/v1/{path}"
        self.model = model
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.batch_size = max(1, batch_size)
        self.timeout = timeout
        self.retry_wait = retry_wait
        handlers: list[urllib.request.BaseHandler] = [SameOriginRedirects(origin(self.url))]
        if local:
            handlers.append(urllib.request.ProxyHandler({}))  # a proxy would carry a loopback request off the machine
        self.opener = urllib.request.build_opener(*handlers)

    def key_parts(self) -> dict[str, Any]:
        return {
            "kind": "endpoint",
            "url": self.url,
            "model": self.model,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "chat": self.chat,
        }

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        for attempt in range(RETRIES + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with self.opener.open(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                answer = err.read().decode("utf-8", "replace")[:300]
                if (err.code == 429 or err.code >= 500) and attempt < RETRIES:
                    time.sleep(self.retry_wait * 2**attempt)
                    continue
                raise LegoError(
                    f"lego augment --endpoint: {self.url} answered HTTP {err.code} {err.reason}: {answer}"
                ) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                if attempt < RETRIES:
                    time.sleep(self.retry_wait * 2**attempt)
                    continue
                reason = getattr(err, "reason", err)
                raise LegoError(
                    f"lego augment --endpoint: cannot reach {self.url} ({reason}); is the server "
                    "running (e.g. `vllm serve MODEL` or `ollama serve`)?"
                ) from None
            except json.JSONDecodeError as err:
                raise LegoError(f"lego augment --endpoint: {self.url} did not answer JSON ({err})") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _complete(self, prompt: str, seed: int) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": seed,
            "n": 1,
            "stream": False,
        }
        if self.chat:
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        field = "message.content" if self.chat else "text"
        for attempt in range(RETRIES + 1):
            answer = self._post(body)
            try:
                choice = answer["choices"][0]
                value = choice["message"]["content"] if self.chat else choice["text"]
            except (KeyError, IndexError, TypeError):
                raise LegoError(
                    f"lego augment --endpoint: {self.url} answered without choices[0].{field}: "
                    f"{json.dumps(answer)[:300]}"
                ) from None
            if isinstance(value, str) and value.strip():
                return value.strip()
            if attempt < RETRIES:
                time.sleep(self.retry_wait * 2**attempt)
        what = "an empty text" if isinstance(value, str) else f"a {type(value).__name__} ({json.dumps(value)[:60]})"
        raise LegoError(
            f"lego augment --endpoint: {self.url} answered {what} as choices[0].{field} for the prompt "
            f"{prompt[:80]!r}, {RETRIES + 1} times; nothing is stored for it (the finished chunks are "
            "kept): check the served model and --max-new-tokens, then run the same command again"
        )

    def __call__(self, prompts: Sequence[str], seed: int) -> list[str]:
        with ThreadPoolExecutor(max_workers=min(self.batch_size, max(1, len(prompts)))) as pool:
            return list(pool.map(self._complete, prompts, [seed + i for i in range(len(prompts))]))
