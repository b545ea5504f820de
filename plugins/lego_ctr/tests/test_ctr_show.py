"""`lego show dcnv2` lists every option of DCNv2 with its type, default and meaning."""

import attrs

from lego_core.cli.main import main
from lego_ctr.dcnv2 import DCNv2Predictor


def test_show_dcnv2_lists_its_options(capsys):
    assert main(["show", "dcnv2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("predictor ctr:dcnv2")
    for field in attrs.fields(DCNv2Predictor.Options):
        assert field.name in out, f"{field.name} is not shown"
    assert "[model.predictor_options]" in out and "Wang et al., WWW 2021" in out
