"""Helpers for plugin authors: a tiny model context, random inputs, contract checks.

Use them in a plugin's tests::

    from lego_core.testing import check_content_operator
    from lego_mynews.bigram import BigramOperator

    def test_bigram_contract():
        check_content_operator(BigramOperator)

Each ``check_*`` runs the brick on a small random batch and asserts what the
engine relies on: output shapes, finite values, gradients reaching every
trainable parameter, padded positions not changing the output, a state-dict
save and load giving the same output, and the options surviving a
structure/unstructure round trip. A tiny depot for end-to-end tests comes
from :func:`tiny_depot`.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import Tensor

from lego_core.config.converter import CONVERTER
from lego_core.model.bricks import BehaviorOperator
from lego_core.model.context import Attribute, ModelContext
from lego_core.model.inputs import FieldInputs, ItemBatch, UserBatch

_EXAMPLES: dict[type, Callable[[Path], Any]] = {}


def register_example_options(cls: type, factory: Callable[[Path], Any]) -> None:
    """Register small, quick options for ``cls`` in tests that build every brick.

    ``factory(workdir)`` returns the options; a brick whose defaults need
    something big (a pretrained language model) returns options that point at
    a tiny stand-in it writes under ``workdir``. Call this in your package's
    ``testing`` module (``mypkg.testing``): :func:`example_options` imports it.
    """
    _EXAMPLES[cls] = factory


def example_options(cls: type, workdir: Path) -> Any:
    """The registered example options of a brick, or its default ``Options()``.

    The first time a class of package ``mypkg`` is asked for, ``mypkg.testing``
    is imported if it exists, so that it can register its examples.
    """
    if cls not in _EXAMPLES:
        package = cls.__module__.split(".")[0]
        if importlib.util.find_spec(f"{package}.testing") is not None:
            importlib.import_module(f"{package}.testing")
    factory = _EXAMPLES.get(cls)
    return factory(Path(workdir)) if factory is not None else cls.Options()  # type: ignore[attr-defined]


def make_context(**overrides: Any) -> ModelContext:
    """A context with two text attributes, two categorical item attributes, two user attributes."""
    attrs_items = {
        "title": Attribute(name="title", kind="tokens", vocab_size=50, max_length=7, vocabulary="words"),
        "abstract": Attribute(name="abstract", kind="tokens", vocab_size=50, max_length=11, vocabulary="words"),
        "category": Attribute(name="category", kind="category", vocab_size=6, vocabulary="category"),
        "subcategory": Attribute(name="subcategory", kind="category", vocab_size=9, vocabulary="subcategory"),
    }
    attrs_users = {
        "age": Attribute(name="age", kind="category", vocab_size=5, vocabulary="age"),
        "region": Attribute(name="region", kind="category", vocab_size=4, vocabulary="region"),
    }
    defaults: dict[str, Any] = dict(
        hidden_size=16,
        num_items=40,
        num_users=12,
        num_persons=10,
        item_attributes=attrs_items,
        user_attributes=attrs_users,
        item_fields={"category": attrs_items["category"]},
        user_fields={"age": attrs_users["age"]},
        max_history=6,
        task="matching",
    )
    defaults.update(overrides)
    return ModelContext(**defaults)


def random_items(context: ModelContext, n: int = 5, generator: torch.Generator | None = None) -> ItemBatch:
    """``n`` items with random tokens, ragged lengths (at least one token) and categories."""
    g = generator or torch.Generator().manual_seed(0)
    tokens, masks, cats = {}, {}, {}
    for name, a in context.item_attributes.items():
        if a.kind == "tokens":
            lengths = torch.randint(1, a.max_length + 1, (n,), generator=g)
            mask = torch.arange(a.max_length)[None, :] < lengths[:, None]
            ids = torch.randint(1, a.vocab_size, (n, a.max_length), generator=g) * mask
            tokens[name], masks[name] = ids, mask
        else:
            cats[name] = torch.randint(0, a.vocab_size, (n,), generator=g)
    return ItemBatch(
        index=torch.randint(0, context.num_items, (n,), generator=g), tokens=tokens, masks=masks, categories=cats
    )


def random_users(context: ModelContext, b: int = 3, generator: torch.Generator | None = None) -> UserBatch:
    g = generator or torch.Generator().manual_seed(1)
    return UserBatch(
        index=torch.randint(0, context.num_users, (b,), generator=g),
        person=torch.randint(0, context.num_persons, (b,), generator=g),
        categories={n: torch.randint(0, a.vocab_size, (b,), generator=g) for n, a in context.user_attributes.items()},
    )


def random_fields(context: ModelContext, b: int, k: int, generator: torch.Generator | None = None) -> FieldInputs:
    g = generator or torch.Generator().manual_seed(2)
    return FieldInputs(
        item={n: torch.randint(0, a.vocab_size, (b, k), generator=g) for n, a in context.item_fields.items()},
        user={n: torch.randint(0, a.vocab_size, (b,), generator=g) for n, a in context.user_fields.items()},
    )


def history_mask(b: int, h: int, lengths: list[int] | None = None) -> Tensor:
    """``(b, h)`` bool mask as the engine makes it: real items first (oldest to most recent), padding after."""
    lengths = lengths if lengths is not None else [max(h - i, 0) for i in range(b)]
    return torch.arange(h)[None, :] < torch.tensor(lengths)[:, None]


def _roundtrip_options(cls: Any, options: Any) -> Any:
    options = cls.Options() if options is None else options
    data = CONVERTER.unstructure(options)
    again = CONVERTER.structure(data, cls.Options)
    assert again == options, f"{cls.__name__}.Options does not survive a round trip: {options} -> {data} -> {again}"
    return options


def _assert_grads(module: torch.nn.Module, what: str) -> None:
    missing = [n for n, p in module.named_parameters() if p.requires_grad and (p.grad is None)]
    assert not missing, f"{what}: no gradient reached {missing}"


def _reload(module: torch.nn.Module, build: Any) -> torch.nn.Module:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    fresh = build()
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    return fresh.eval()


def check_content_operator(cls: Any, options: Any = None, context: ModelContext | None = None, n: int = 5) -> None:
    """Run a content operator through the contract the engine relies on."""
    context = context or make_context()
    options = _roundtrip_options(cls, options)
    torch.manual_seed(0)
    op = cls(options=options, context=context)
    items = random_items(context, n)
    out = op(items)
    assert out.shape == (n, context.hidden_size), (
        f"{cls.__name__}: output {tuple(out.shape)}, expected {(n, context.hidden_size)}"
    )
    assert torch.isfinite(out).all(), f"{cls.__name__}: non-finite output"
    out.pow(2).sum().backward()
    _assert_grads(op, cls.__name__)
    op.eval()
    with torch.no_grad():
        ref = op(items)
        if cls.uses_content:  # changing padded token ids must not change the output
            noisy = ItemBatch(
                index=items.index,
                masks=items.masks,
                categories=items.categories,
                tokens={
                    k: torch.where(items.masks[k], v, torch.randint_like(v, 1, 40)) for k, v in items.tokens.items()
                },
            )
            assert torch.allclose(op(noisy), ref, atol=1e-5), f"{cls.__name__}: padded tokens change the output"
        reloaded = _reload(op, lambda: cls(options=options, context=context))
        assert torch.allclose(reloaded(items), ref, atol=1e-6), f"{cls.__name__}: output changes after save/load"


def check_behavior_operator(cls: Any, options: Any = None, context: ModelContext | None = None, b: int = 4) -> None:
    """Shapes, masks (padding and empty histories), gradients, save/load, options round trip."""
    context = context or make_context()
    options = _roundtrip_options(cls, options)
    torch.manual_seed(0)
    op = cls(options=options, context=context)
    h, d = context.max_history, context.hidden_size
    history = torch.randn(b, h, d, requires_grad=True)
    mask = history_mask(b, h, [h, 3, 1, 0][:b] + [2] * max(0, b - 4))
    users = random_users(context, b)

    def run(x: Tensor) -> tuple[Tensor, Tensor | None]:
        out = op(x, mask, users)
        return (out[0], out[1]) if cls.output == "sequence" else (out, None)

    out, out_mask = run(history)
    if cls.output == "sequence":
        assert out.dim() == 3 and out.shape[0] == b and out.shape[2] == d, f"{cls.__name__}: output {tuple(out.shape)}"
        assert out_mask is not None and out_mask.shape == out.shape[:2] and out_mask.dtype == torch.bool
    else:
        assert out.shape == (b, d), f"{cls.__name__}: output {tuple(out.shape)}, expected {(b, d)}"
    assert torch.isfinite(out).all(), f"{cls.__name__}: non-finite output (empty histories must give finite vectors)"
    out.pow(2).sum().backward()
    _assert_grads(op, cls.__name__)
    assert history.grad is not None and history.grad.abs().sum() > 0, f"{cls.__name__}: output ignores the history"
    history = history.detach()
    op.eval()
    with torch.no_grad():
        ref, _ = run(history)
        noisy, _ = run(torch.where(mask[..., None], history, torch.randn_like(history) * 50))
        keep = out_mask if out_mask is not None else torch.ones(b, dtype=torch.bool)
        assert torch.allclose(noisy[keep], ref[keep], atol=1e-5), f"{cls.__name__}: padded positions change the output"
        reloaded = _reload(op, lambda: cls(options=options, context=context))
        again = reloaded(history, mask, users)
        again = again[0] if cls.output == "sequence" else again
        assert torch.allclose(again, ref, atol=1e-6), f"{cls.__name__}: output changes after save/load"
    if type(op).pool_bags is not BehaviorOperator.pool_bags:
        _check_pool_bags(op, history, mask, users)


def _check_pool_bags(op: BehaviorOperator, history: Tensor, mask: Tensor, users: Any) -> None:
    """The flat-bag path gives what ``forward`` gives on the padded history, gradients included."""
    name = type(op).__name__
    assert type(op).output == "vector", f"{name}: pool_bags is for operators that return one vector per user"
    torch.manual_seed(1)
    b, _, d = history.shape
    vectors = torch.randn(9, d, requires_grad=True)  # distinct item vectors the history rows point into
    index = torch.randint(0, 9, (int(mask.sum()),))
    padded = vectors.new_zeros(b, mask.shape[1], d).index_put((mask,), vectors[index])
    counts = mask.sum(dim=1)
    bagged = op.pool_bags(vectors, index, counts.cumsum(0) - counts, users)
    assert bagged is not None, f"{name}: pool_bags returned None although the class defines it"
    reference = op(padded, mask, users)
    assert torch.allclose(bagged, reference, atol=1e-5), f"{name}: pool_bags differs from forward"
    (grad_bagged,) = torch.autograd.grad(bagged.pow(2).sum(), vectors)
    (grad_reference,) = torch.autograd.grad(reference.pow(2).sum(), vectors)
    assert torch.allclose(grad_bagged, grad_reference, atol=1e-5), f"{name}: pool_bags' gradients differ"


def check_predictor(cls: Any, options: Any = None, context: ModelContext | None = None, b: int = 3, k: int = 4) -> None:
    """Shapes, gradients, save/load, options round trip, and per-candidate independence.

    Scores must not depend on which other candidates share the call: the
    cached evaluation scores pairs one candidate at a time.
    """
    context = context or make_context()
    options = _roundtrip_options(cls, options)
    torch.manual_seed(0)
    pred = cls(options=options, context=context)
    d = context.hidden_size
    if cls.input == "sequence":
        user = torch.randn(b, context.max_history, d)
        user_mask = history_mask(b, context.max_history, [context.max_history, 2, 0][:b] + [1] * max(0, b - 3))
    else:
        user, user_mask = torch.randn(b, d), None
    candidates = torch.randn(b, k, d, requires_grad=True)
    fields = random_fields(context, b, k)
    scores = pred(user, candidates, fields, user_mask)
    assert scores.shape == (b, k), f"{cls.__name__}: scores {tuple(scores.shape)}, expected {(b, k)}"
    assert torch.isfinite(scores).all(), f"{cls.__name__}: non-finite scores"
    scores.sum().backward()
    _assert_grads(pred, cls.__name__)
    assert candidates.grad is not None and candidates.grad.abs().sum() > 0, (
        f"{cls.__name__}: scores ignore the candidates"
    )
    pred.eval()
    with torch.no_grad():
        ref = pred(user, candidates, fields, user_mask)
        single = torch.cat(
            [
                pred(
                    user,
                    candidates[:, j : j + 1],
                    attrs.evolve(fields, item={n: v[:, j : j + 1] for n, v in fields.item.items()}),
                    user_mask,
                )
                for j in range(k)
            ],
            dim=1,
        )
        assert torch.allclose(single, ref, atol=1e-5), (
            f"{cls.__name__}: a candidate's score depends on the other candidates"
        )
        reloaded = _reload(pred, lambda: cls(options=options, context=context))
        assert torch.allclose(reloaded(user, candidates, fields, user_mask), ref, atol=1e-6), (
            f"{cls.__name__}: output changes after save/load"
        )


def tiny_depot(path: str | Path, **options: Any) -> Path:
    """Write a small synthetic depot (a few hundred items) to ``path`` and return it."""
    from lego_core.data.prepare import prepare
    from lego_core.data.synth import SyntheticOptions, SyntheticProcessor

    defaults = dict(num_items=200, num_users=60, impressions_per_user=3)
    defaults.update(options)
    prepare(SyntheticProcessor(SyntheticOptions(**defaults)), None, Path(path))
    return Path(path)
