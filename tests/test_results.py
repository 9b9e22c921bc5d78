"""The results files (course_lib/results/chNN.yaml): valid, rendered into tables, and in agreement with the README."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from course_lib import results

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_results_file_loads_and_every_table_renders():
    files = results.chapter_files()
    assert files, "no results files shipped with course_lib"
    for data in results.load():
        for name in data.get("tables") or {}:
            header, rows = results.table_rows(name)
            assert header[:3] == ["model", "run", "protocol"]
            assert all(len(r) == len(header) for r in rows)


def test_readme_results_table_is_generated_from_the_results_files():
    block = results.readme_block(README.read_text(encoding="utf-8"))
    assert block == results.readme_table(), "README results table is stale: python -m course_lib.results " \
                                            "--write-readme README.md"
    assert block.count("\n") >= 3  # the measured runs of several chapters


def test_table_puts_this_run_first_and_formats_percentages(tmp_path, monkeypatch):
    doc = {"version": 1, "chapter": "99", "title": "t",
           "tables": {"ch99_x": {"columns": [["miou", "mIoU %", 100, 1], ["epe", "EPE px", 1, 2]]}},
           "runs": [{"table": "ch99_x", "model": "M", "what": "quick, real data", "metrics": {"miou": 0.3345},
                     "command": "python -m course_lib.train m", "machine": "cpu", "date": "2026-12-01",
                     "readme": True},
                    {"table": "ch99_x", "model": "M", "what": "full profile", "status": "not measured yet"}],
           "published": [{"table": "ch99_x", "model": "Paper", "protocol": "val", "metrics": {"epe": 1.5}}]}
    folder = tmp_path / "course_lib_results"
    folder.mkdir()
    (folder / "ch99.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setattr(results, "chapter_files", lambda: [folder / "ch99.yaml"])
    results._load_file.cache_clear()
    header, rows = results.table_rows("ch99_x", this_run={"model": "M", "what": "this run", "metrics": {"miou": 0.5}})
    assert header == ["model", "run", "protocol", "mIoU %", "EPE px"]
    assert rows[0][:2] == ["M", "this run"] and rows[0][3] == "50.0" and rows[0][4] == "-"
    assert rows[1][3] == "33.5" and rows[2][3] == "not measured yet"
    assert rows[3][1:] == ["published", "val", "-", "1.50"]
    assert "mIoU % 33.5" in results.readme_table() and "python -m course_lib.train m" in results.readme_table()
    with pytest.raises(KeyError, match="no results table 'nope'"):
        results.table_rows("nope")
    bad = dict(doc, runs=[{"table": "ch99_x", "model": "M", "oops": 1, "metrics": {}}])
    (folder / "ch99.yaml").write_text(yaml.safe_dump(bad))
    results._load_file.cache_clear()
    with pytest.raises(ValueError, match=r"ch99\.yaml: runs\[0\] has unknown keys \['oops'\]"):
        results.load()
    results._load_file.cache_clear()
