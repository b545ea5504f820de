"""lego-someone's hook implementations: one content operator."""

from lego_core.plugin import hookimpl


@hookimpl
def lego_register_content_operators():
    from lego_someone.bigram import BigramOperator

    return [BigramOperator]
