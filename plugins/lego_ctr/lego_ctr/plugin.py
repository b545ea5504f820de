"""Hook implementations of lego-ctr: its predictors and presets."""

from pathlib import Path

from lego_core.plugin import hookimpl

PRESETS = Path(__file__).parent / "presets"


@hookimpl
def lego_register_predictors():
    from lego_ctr.autoint import AutoIntPredictor
    from lego_ctr.dcn import DCNPredictor
    from lego_ctr.dcnv2 import DCNv2Predictor
    from lego_ctr.deepfm import DeepFMPredictor
    from lego_ctr.din import DINPredictor
    from lego_ctr.dnn import DNNPredictor
    from lego_ctr.fibinet import FiBiNETPredictor
    from lego_ctr.finalmlp import FinalMLPPredictor
    from lego_ctr.fm import FMPredictor
    from lego_ctr.gdcn import GDCNPredictor
    from lego_ctr.masknet import MaskNetPredictor
    from lego_ctr.pnn import PNNPredictor
    from lego_ctr.widedeep import WideDeepPredictor
    from lego_ctr.xdeepfm import XDeepFMPredictor

    return [
        DNNPredictor,
        WideDeepPredictor,
        FMPredictor,
        DeepFMPredictor,
        PNNPredictor,
        DCNPredictor,
        DCNv2Predictor,
        GDCNPredictor,
        XDeepFMPredictor,
        AutoIntPredictor,
        FiBiNETPredictor,
        FinalMLPPredictor,
        MaskNetPredictor,
        DINPredictor,
    ]


@hookimpl
def lego_register_presets():
    from lego_core.config.preset import Preset

    return [Preset.from_toml(path) for path in sorted(PRESETS.glob("*.toml"))]
