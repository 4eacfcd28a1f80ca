"""`make demo` end to end: the virtual freezer on a pty, driven by `crf` over
the link; the fetched record verifies and the batch report says PASS."""

from crf_host.demo import run_demo
from crf_host.records import read_run


def test_demo_runs_the_main_job_over_the_link(tmp_path, capfd):
    assert run_demo(out_dir=tmp_path) == 0
    out = capfd.readouterr().out      # the crf commands run as child processes
    (run_dir,) = list(tmp_path.iterdir())
    run = read_run(run_dir / "000001.run")
    assert run.verified and run.seal["status"] == "completed"
    assert run.header["batch"] == "DEMO-0001" and run.header["operator"] == "demo"
    assert "verdict: PASS" in out
    for name in ("000001-report.pdf", "000001-freeze-curve.png", "run_record.csv",
                 "run_record.json", "trajectory.csv", "freeze_curve.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert (run_dir / "000001-report.pdf").read_bytes()[:5] == b"%PDF-"
