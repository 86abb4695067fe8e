import subprocess
import sys

import pytest

from advlib.cli import build_parser, main

SUBCOMMANDS = ["models", "design-counts", "stimuli", "cnn-rsa", "simulate", "select", "brain-rsa",
               "encode", "reproduce", "notebooks", "export-example", "import-data"]


def test_every_subcommand_is_listed_and_has_help(capsys):
    parser = build_parser()
    actions = [a for a in parser._actions if a.dest == "command"][0]
    assert sorted(actions.choices) == sorted(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        assert "usage: advlib " + name in capsys.readouterr().out


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "advlib.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "stimuli" in out and "notebooks" in out
    # the parser (every subcommand's options, the encoders' names too) imports no torch
    probe = ("import sys\nfrom advlib.cli import build_parser\nbuild_parser()\n"
             "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_models_lists_readouts(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "alexnet" in out and "layer1  conv1" in out and "layer8  logits" in out


def test_unknown_model_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as info:
        main(["stimuli", "--model", "vgg", "--out", "x"])
    assert info.value.code == 2
    assert "invalid choice: 'vgg'" in capsys.readouterr().err


def test_library_errors_become_a_one_line_message(tmp_path, capsys):
    code = main(["stimuli", "--out", str(tmp_path / "o"), "--images", str(tmp_path / "none")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("advlib stimuli: error: images=") and "Traceback" not in err


def test_stimuli_command_uses_the_cache(stim_dir, capsys, monkeypatch):
    monkeypatch.setattr("advlib.cnn.adversarial.generate_an", None)  # would fail if rebuilt
    assert main(["stimuli", "--out", str(stim_dir), "--n-images", "4"]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "(12 images)" in out


def test_cnn_rsa_command_writes_tables(stim_dir, tmp_path, capsys):
    code = main(["cnn-rsa", "--stimuli", str(stim_dir), "--results", str(tmp_path),
                 "--n-perm", "20", "--n-boot", "20"])
    assert code == 0
    from advlib.layout import Layout

    layout = Layout(tmp_path, "efficientnet_lite0", stim_dir)
    assert layout.root.name.startswith("on-stimuli-")   # not the model's own set's folder
    assert layout.cnn_rsa.is_file()
    assert "re_ai" in capsys.readouterr().out


def test_encode_rejects_a_bad_sparsity_level(capsys):
    from advlib.cli import main

    with pytest.raises(SystemExit):
        main(["encode", "--data", "x", "--n-nonzero", "0"])
    assert "'0': expected \"cv\" or a positive integer" in capsys.readouterr().err
