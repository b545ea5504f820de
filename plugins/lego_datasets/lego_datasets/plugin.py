"""Hook implementations of lego-datasets: registration only."""

from lego_core.plugin import hookimpl


@hookimpl
def lego_register_processors():
    from lego_datasets.adressa import AdressaProcessor
    from lego_datasets.amazon import AmazonProcessor
    from lego_datasets.ebnerd import EBNeRDProcessor
    from lego_datasets.goodreads import GoodreadsProcessor
    from lego_datasets.hm import HMProcessor
    from lego_datasets.hotelrec import HotelRecProcessor
    from lego_datasets.lastfm1k import LastFM1KProcessor
    from lego_datasets.lastfm2k import LastFM2KProcessor
    from lego_datasets.lfm1b import LFM1bProcessor
    from lego_datasets.microlens import MicroLensProcessor
    from lego_datasets.mind import MINDProcessor
    from lego_datasets.movielens import MovieLensProcessor
    from lego_datasets.netflix import NetflixProcessor
    from lego_datasets.pens import PENSProcessor
    from lego_datasets.pog import POGProcessor
    from lego_datasets.recbole import RecBoleProcessor
    from lego_datasets.steam import SteamProcessor
    from lego_datasets.xmind import XMINDProcessor
    from lego_datasets.yelp import YelpProcessor

    return [
        MovieLensProcessor,
        MINDProcessor,
        RecBoleProcessor,
        PENSProcessor,
        XMINDProcessor,
        EBNeRDProcessor,
        AdressaProcessor,
        AmazonProcessor,
        GoodreadsProcessor,
        MicroLensProcessor,
        NetflixProcessor,
        LastFM1KProcessor,
        LastFM2KProcessor,
        LFM1bProcessor,
        HMProcessor,
        POGProcessor,
        SteamProcessor,
        HotelRecProcessor,
        YelpProcessor,
    ]


@hookimpl
def lego_register_commands():
    from lego_datasets.import_command import IMPORT

    return [IMPORT]
