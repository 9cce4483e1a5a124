"""A recipe's TOML: every section and key maps onto a config; anything else is an error."""

from pathlib import Path

import pytest

from asr.errors import AsrError
from asr.train_config import configs_from_toml

PATHS = {"train_manifest": Path("t.jsonl"), "dev_manifest": None, "out_dir": Path("exp")}


@pytest.mark.parametrize(
    "toml, problem",
    [
        ("[decode]\nbeam_size = 8\n", "unknown config sections: decode"),
        ("[features]\nutterance_mean = true\n", "unknown FeatureConfig keys: utterance_mean"),
        ('[features]\nnormalisation = "cepstral"\n', "normalisation must be one of"),
    ],
)
def test_what_nothing_reads_is_refused(tmp_path, toml, problem):
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(AsrError, match=problem):
        configs_from_toml(path, **PATHS)


def test_sections_become_typed_configs(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[features]\nnormalisation = "speaker"\n[train]\ninit_from = "a.pt"\n')
    train, _, features = configs_from_toml(path, **PATHS)
    assert features.normalisation == "speaker"
    assert train.init_from == Path("a.pt") and train.out_dir == Path("exp")
