"""Split mode for GPT-2, OPT, Phi, Phi-3, GLM and GLM-4: the same vectors as the full model, default LoRA targets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lego_core.errors import ConfigError
from lego_llm.families import FAMILIES
from lego_llm.lm_operator import LMConfig, LMOperator
from lego_llm.testing import DECODERS, depot_store, lm_context, tiny_decoder


@pytest.fixture(scope="module", params=DECODERS)
def decoder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return request.param, tiny_decoder(tmp_path_factory.mktemp(request.param), request.param)


def _perturb(op: LMOperator) -> None:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in op.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)


@pytest.mark.parametrize("lora", [0, 2])
def test_split_equals_full_model(decoder: tuple[str, Path], lora: int, depot_dir: Path) -> None:
    family, folder = decoder
    context, store = depot_store(depot_dir, hidden_size=16)
    options = {"model": str(folder), "tune_from": 2, "lora_r": lora, "split_dtype": "float32", "max_length": 24}
    full = LMOperator(options=LMConfig(**options), context=context)
    assert full.family.runner is not None and full.pooling == "last"
    if lora:  # the family's default targets exist in this architecture and only the top layers get adapters
        assert full.lora_modules and all(
            n.rsplit(".", 1)[-1] in FAMILIES[full.family.name].lora_targets for n in full.lora_modules
        )
        assert all(n.split(".")[-2] in ("2", "3") or ".2." in n or ".3." in n for n in full.lora_modules)
    _perturb(full)
    split = LMOperator(options=LMConfig(split=True, **options), context=context)
    split.load_state_dict(full.state_dict())
    full.prepare(store)
    split.prepare(store)
    full.eval()
    split.eval()
    items = store.batch(torch.arange(0, 60, 3))
    with torch.no_grad():
        ref = full(items)
        torch.testing.assert_close(split(items), ref, atol=1e-5, rtol=1e-4)
        split.split_cache = None  # no prepare(): the lower part on the fly gives the same numbers
        torch.testing.assert_close(split(items), ref, atol=1e-5, rtol=1e-4)


def test_lora_hint_names_the_adaptable_modules_of_gpt2(tmp_path: Path) -> None:
    folder = tiny_decoder(tmp_path / "gpt2", "gpt2")
    with pytest.raises(ConfigError) as err:
        LMOperator(options=LMConfig(model=str(folder), lora_r=2, lora_targets=["q_proj"]), context=lm_context(50))
    message = str(err.value)
    assert "match no module" in message and "'c_attn'" in message and "c_fc" in message
    assert "lora_targets = []" not in message


def test_missing_default_targets_give_a_usable_hint(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, GPTNeoXConfig, GPTNeoXModel

    from lego_llm.testing import tiny_llama

    folder = tmp_path / "neox"
    GPTNeoXModel(
        GPTNeoXConfig(
            vocab_size=320,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        )
    ).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_llama(tmp_path / "llama")).save_pretrained(folder)
    with pytest.raises(ConfigError) as err:
        LMOperator(options=LMConfig(model=str(folder), lora_r=2), context=lm_context(50))
    message = str(err.value)
    assert "no default LoRA targets" in message and "query_key_value" in message
    assert "lora_targets = []" not in message
