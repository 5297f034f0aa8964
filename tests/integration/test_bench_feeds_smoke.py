"""The feed benchmark end to end in its quick form: a real caseload, the real server, wrk.

Needs wrk (Debian package ``wrk``): the benchmark fails without it, and so does this test
(it is never skipped). Nothing here asserts a speed: only that everything was measured and
checked.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks import bench_feeds

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8080/calendars/x.ics
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.62ms    6.18ms  97.03ms   96.10%
    Req/Sec     3.05k   300.00     3.50k    80.00%
  15170 requests in 5.00s, 4.10MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   3034.26
Transfer/sec:    839.71KB
"""


def test_the_quick_feed_benchmark_measures_generation_200s_and_checked_304s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is needed for the feed benchmark (apt-get install wrk)")
    monkeypatch.setenv("SPO_USER", "scu@force.example")  # the generated SCU

    figures = bench_feeds.run(workdir=tmp_path / "feeds", quick=True, runs=1)

    by_label = {f.label.split(" (")[0]: f for f in figures}
    assert set(by_label) == {
        "build one team feed",
        "feed server: 200",
        "feed server: 304",
    }
    for figure in figures:
        assert figure.group == "feeds"
        assert figure.samples, figure.label
        assert all(s > 0 for s in figure.samples), figure.label
    generation = by_label["build one team feed"]
    assert generation.unit == "s"
    assert generation.target is None
    assert " events, " in generation.note
    not_modified = by_label["feed server: 304"]
    assert not_modified.unit == "/s"
    assert not_modified.target == (">=", 2000.0)
    assert not_modified.target_text == "≥ 2,000 req/s"
    assert "one request checked: 304, empty body, same ETag" in not_modified.note
    assert "every request logged" in not_modified.note
    # the feed is the size the issue asks about (counted from the served body)
    events = int(generation.label.split("(")[1].split()[0])
    assert 300 <= events <= 700
    assert (tmp_path / "feeds" / "serve.log").exists()


def test_without_wrk_the_benchmark_fails_rather_than_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_feeds.shutil, "which", lambda _name: None)
    with pytest.raises(RuntimeError, match="wrk is not installed"):
        bench_feeds.run(workdir=tmp_path, quick=True, runs=1)
    assert not (tmp_path / "feeds.db").exists()  # it failed before doing anything slow


def test_wrk_output_is_read_with_its_failures() -> None:
    load = bench_feeds.parse_wrk(WRK_OUTPUT)
    assert load.rate == pytest.approx(3034.26)
    assert load.requests == 15170
    assert load.bytes_read == pytest.approx(4.10 * 1024**2)
    assert load.bad == 12
    with pytest.raises(RuntimeError, match="cannot read wrk"):
        bench_feeds.parse_wrk("nothing useful")
