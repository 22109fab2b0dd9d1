"""The `girflow` and `gir-opt` commands as a user runs them: output, files, exit codes."""
import csv
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*argv, stdin=None):
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, input=stdin)


def test_trace_prints_gir_and_stages():
    p = run("girflow", "trace", "rmsnorm", "--shape", "4x40", "--print-stages")
    assert p.returncode == 0, p.stderr
    assert '"gir.reduce"' in p.stdout and "IR Dump After gir-lower-cpu" in p.stdout + p.stderr


def test_bench_writes_csv_and_chart(tmp_path):
    out_csv, chart = tmp_path / "b.csv", tmp_path / "b.png"
    p = run("girflow", "bench", "--ops", "softmax,sum_first", "--shapes", "64x128", "--rounds", "2",
            "--no-inductor", "--no-tune", "--csv", str(out_csv), "--chart", str(chart))
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(out_csv.open()))
    assert {r["impl"] for r in rows} == {"girflow", "tuned", "girflow(out=)", "eager", "copy"}
    assert all(float(r["gbps"]) > 0 for r in rows)
    assert chart.stat().st_size > 1000 and "share of copy" in p.stdout and "per-call overhead" in p.stdout


def test_user_errors_exit_2_without_traceback():
    for argv in (["girflow", "bench", "--shapes", "0x4"], ["girflow", "trace", "nope"],
                 ["girflow", "bench", "--ops", "nope"]):
        p = run(*argv)
        assert p.returncode == 2 and "error:" in p.stderr and "Traceback" not in p.stderr, argv


def test_gir_opt_reads_stdin_and_writes_output(tmp_path):
    src = Path(__file__).parents[1] / "lit" / "gir" / "Inputs" / "softmax_4x37.mlir"
    out = tmp_path / "o.mlir"
    p = run("gir-opt", "-", "--gir-dataflow", "-o", str(out), stdin=src.read_text())
    assert p.returncode == 0, p.stderr
    assert "gir.phase" in out.read_text()
    assert "--gir-lower-cpu" in run("gir-opt", "--list-passes").stdout
