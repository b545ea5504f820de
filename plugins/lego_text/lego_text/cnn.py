"""NAML's news encoder: a CNN with word attention per text attribute, attention across views."""

from __future__ import annotations

import attrs
from attrs import validators as v
from torch import nn

from lego_core.model.context import Attribute
from lego_text.text_cnn import TextCNN, odd
from lego_text.views import ViewConfig, ViewOperator


@attrs.define(kw_only=True, frozen=True)
class CNNConfig(ViewConfig):
    window_size: int = attrs.field(
        default=3, validator=[v.gt(0), odd], metadata={"doc": "Words per convolution window (odd; NAML: 3)."}
    )


class CNNOperator(ViewOperator):
    """Attentive multi-view news encoder of NAML.

    Paper: Wu et al., "Neural News Recommendation with Attentive Multi-View
    Learning", IJCAI 2019, https://www.ijcai.org/proceedings/2019/536.

    Each text attribute (title, body, ...) is a view: word vectors -> dropout ->
    Conv1d with ``hidden_size`` filters -> ReLU -> dropout -> additive attention
    over the words. Each categorical attribute (category, subcategory) is a
    view: embedding -> dense -> ReLU. Additive attention across the views gives
    the item vector ``(N, D)``.

    Args:
        options: :class:`CNNConfig`.
        context: the model context (item attributes, ``hidden_size``, depot).

    Example:
        >>> from lego_core.testing import make_context, random_items
        >>> context = make_context(hidden_size=16)
        >>> op = CNNOperator(options=CNNConfig(embedding_dim=8, attention_dim=8), context=context)
        >>> op(random_items(context, n=5)).shape
        torch.Size([5, 16])
    """

    name = "cnn"
    paper = "Wu et al., Neural News Recommendation with Attentive Multi-View Learning, IJCAI 2019. https://www.ijcai.org/proceedings/2019/536"
    Options = CNNConfig

    def build_text_encoder(self, attribute: Attribute) -> nn.Module:
        opts: CNNConfig = self.options
        return TextCNN(
            opts.embedding_dim,
            self.context.hidden_size,
            window_size=opts.window_size,
            attention_dim=opts.attention_dim,
            dropout=opts.dropout,
        )
