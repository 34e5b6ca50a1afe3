"""`avdetect inspect`: one result or one-line reason per input, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from avdetect.cli import main


def test_every_bad_input_gets_a_result_or_a_one_line_reason(bad_inputs, capsys):
    paths = [str(case.path) for case in bad_inputs.values()]
    code = main(["inspect", "--json", "--frames", "8", *paths])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in rows] == paths  # one row per input, in order, nothing lost
    assert code == 1 and "Traceback" not in err
    for case, row in zip(bad_inputs.values(), rows):
        assert row["status"] == ("ok" if case.expect == "ok" else "error"), case.path.name
        if row["status"] == "error":
            assert any(case.path.name in line for line in err.splitlines())
        else:
            assert (row["audio"]["present"]) == case.has_audio
            assert (row["frames"]["sampled"] > 0) == case.has_video


def test_good_inputs_exit_zero_and_save_crops(bad_inputs, tmp_path, capsys):
    if "four_faces" not in bad_inputs:
        pytest.skip("needs the shared face images")
    code = main(["inspect", str(bad_inputs["four_faces"].path), "--frames", "4", "--save-crops", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "4 track(s)" in out
    assert len(list(tmp_path.rglob("*.jpg"))) == 16


def test_cli_error_has_no_traceback(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    proc = subprocess.run([sys.executable, "-m", "avdetect.cli", "inspect", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "notes.mp4" in proc.stderr
