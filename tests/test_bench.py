"""`pinn bench` runs each path, alternates them, and reports medians and ratios; bad arguments exit 2."""
import pytest

from pinncli import bench


def test_bench_reports_every_path_and_the_ratio(capsys):
    assert bench.main(["--methods", "M1", "--steps", "5", "--repeats", "2", "--threads", "1", "--no-deepxde"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "torch " in out and "1 threads" in out
    assert "DeepXDE: skipped (--no-deepxde)" in out
    order = [line.split(":")[1].strip() for line in out.splitlines() if line.startswith("  repeat")]
    assert order == ["M1                   fast", "M1              reference"] * 2  # alternating A B A B
    summary = [line for line in out.splitlines() if line.startswith("  M1: fast ")]
    assert len(summary) == 1 and "fast/reference" in summary[0]


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--methods", "M9"], ["--repeats", "x"]])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pinn bench: error: ")
