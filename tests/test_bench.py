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
    assert "work per ordinary step (matrix products)" in out and "  M1: 35.2 MFLOP" in out


def test_the_work_per_step_counts_the_networks_matrix_products():
    """Helmholtz 3x50 at 128 points per term and edge: 640 value rows and 4 x 128 derivative rows (u_x, u_y,
    u_xx, u_yy at the residual's points) go through every 50 x 50 product, forward and twice backward:
    3 x 1152 x 50 x 50 x 2 = 17.28 MFLOP per square layer. The MLP [2, 50, 50, 50, 1] has two such layers, the
    modified MLP three gates (paper eq. 43-47), plus the small input and output products."""
    from pinnlab.bench import matmul_mflop

    m1, m2, m3, m4 = (matmul_mflop(m) for m in ("M1", "M2", "M3", "M4"))
    assert 2 * 17.28 < m1 < 2 * 17.28 + 1.0 and 3 * 17.28 < m3 < 3 * 17.28 + 2.0
    assert m2 == m1 and m4 == m3  # the weighting adds no product to an ordinary step


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--methods", "M9"], ["--repeats", "x"]])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pinn bench: error: ")
