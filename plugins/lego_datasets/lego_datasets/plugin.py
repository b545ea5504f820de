"""Hook implementations of lego-datasets: registration only."""

from lego_core.plugin import hookimpl


@hookimpl
def lego_register_processors():
    from lego_datasets.mind import MINDProcessor
    from lego_datasets.movielens import MovieLensProcessor
    from lego_datasets.recbole import RecBoleProcessor

    return [MovieLensProcessor, MINDProcessor, RecBoleProcessor]
