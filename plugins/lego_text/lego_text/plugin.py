"""lego-text's hook implementations: its operators, predictor and presets."""

from pathlib import Path

from lego_core.plugin import hookimpl


@hookimpl
def lego_register_content_operators():
    from lego_text.attention import AttentionOperator
    from lego_text.cnn import CNNOperator
    from lego_text.cnn_concat import CNNConcatOperator
    from lego_text.fastformer import FastformerOperator
    from lego_text.pooling import PoolingOperator
    from lego_text.transformer import TransformerOperator

    return [PoolingOperator, CNNOperator, CNNConcatOperator, AttentionOperator, TransformerOperator, FastformerOperator]


@hookimpl
def lego_register_behavior_operators():
    from lego_text.additive import AdditiveOperator
    from lego_text.gru import GRUOperator
    from lego_text.history_attention import HistoryAttentionOperator
    from lego_text.history_fastformer import HistoryFastformerOperator
    from lego_text.history_transformer import HistoryTransformerOperator
    from lego_text.polyattention import PolyAttentionOperator
    from lego_text.sequence import SequenceOperator

    return [
        AdditiveOperator,
        HistoryAttentionOperator,
        GRUOperator,
        HistoryTransformerOperator,
        PolyAttentionOperator,
        HistoryFastformerOperator,
        SequenceOperator,
    ]


@hookimpl
def lego_register_predictors():
    from lego_text.miner import MINERPredictor

    return [MINERPredictor]


@hookimpl
def lego_register_presets():
    from lego_core.config.preset import Preset

    return [Preset.from_toml(path) for path in sorted((Path(__file__).parent / "presets").glob("*.toml"))]
