"""The command line as a new user meets it (issue #20): help, version, flags, errors in one line."""

from __future__ import annotations

import argparse
import logging

import pytest
from rich.progress import Progress

from gigmatch.cli import build_parser, main, package_version
from gigmatch.cli._common import StageProgress
from tests.helpers import county


def run_exit(argv, capsys) -> tuple[int, str]:
    """Run the CLI; the exit code (from SystemExit when argparse stops it) and stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"gigmatch {package_version()}"


SUBCOMMANDS = [
    ["simulate"],
    ["validate"],
    ["taxonomy"],
    ["assign"],
    ["train"],
    ["evaluate"],
    ["score"],
    ["serve"],
    ["replay"],
    ["dispatch"],
    ["store"],
    ["loop-report"],
    ["experiment"],
    ["models"],
    ["models", "list"],
    ["models", "promote"],
    ["models", "rollback"],
]


def test_every_subcommand_has_its_own_help_with_every_flag_explained(capsys):
    texts = {}
    for argv in SUBCOMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--help"])
        assert exc.value.code == 0
        texts[" ".join(argv)] = capsys.readouterr().out
    assert len(set(texts.values())) == len(texts)  # models list/promote/rollback used to print one text
    missing = []

    def walk(p):  # every parser, nested subcommands included
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for q in action.choices.values():
                    walk(q)
            elif action.dest != "help" and not action.help:
                missing.append(f"{p.prog} {action.option_strings or action.dest}")

    walk(build_parser())
    assert not missing, f"flags without help text: {missing}"
    assert "(default: 15.0)" in texts["assign"] and "(default: 7)" in texts["simulate"]
    assert "(default: None)" not in "".join(texts.values())


def test_promote_takes_the_version_before_or_after_the_flags(tmp_path):
    parser = build_parser()
    for argv in (
        ["models", "promote", "--registry", str(tmp_path), "v1"],
        ["models", "promote", "v1", "--registry", str(tmp_path)],
    ):
        args = parser.parse_args(argv)
        assert (args.action, args.version, args.registry) == ("promote", "v1", tmp_path)


def test_promote_without_a_version_names_it(tmp_path, capsys):
    code, err = run_exit(["models", "promote", "--registry", str(tmp_path)], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        "gigmatch models promote: error: the following arguments are required: VERSION "
        "(see gigmatch models promote --help)"
    ]


@pytest.mark.parametrize("command", ["assign", "evaluate", "score", "serve"])
def test_a_model_path_that_does_not_exist_is_one_line_exit_2(command, tmp_path, capsys):
    market = county(tmp_path, own_vocabulary=False)
    (tmp_path / "pairs.csv").write_text("job_id,worker_id\nj1,w1\n")
    argv = {
        "assign": ["--data", str(market), "--out", str(tmp_path / "o")],
        "evaluate": ["--data", str(market)],
        "score": [
            "--data",
            str(market),
            "--pairs",
            str(tmp_path / "pairs.csv"),
            "--out",
            str(tmp_path / "s"),
        ],
        "serve": ["--data", str(market), "--db", str(tmp_path / "g.db"), "--demo"],
    }[command]
    code, err = run_exit([command, *argv, "--model", str(tmp_path / "registy")], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"gigmatch {command}: error: argument --model: {tmp_path / 'registy'}: does not exist (give a model "
        f"registry or version folder, or leave --model out for the heuristic scorer) (see gigmatch {command} --help)"
    ]
    assert (
        not (tmp_path / "o").exists() and not (tmp_path / "s").exists() and not (tmp_path / "g.db").exists()
    )


def test_an_empty_registry_is_cold_start_with_one_log_line(tmp_path, capsys, caplog):
    market = county(tmp_path, own_vocabulary=False)
    (tmp_path / "registry").mkdir()
    with caplog.at_level(logging.INFO):
        code = main(
            [
                "assign",
                "--data",
                str(market),
                "--out",
                str(tmp_path / "o"),
                "--model",
                str(tmp_path / "registry"),
            ]
        )
    assert code == 0
    said = [r.getMessage() for r in caplog.records if "heuristic" in r.getMessage()]
    assert said == [
        f"no trained model in {tmp_path / 'registry'} yet: scoring with the heuristic scorer (heuristic-v1, cold start)"
    ]
    assert "model heuristic-v1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["simulate", "--start", "2026-13-01", "--out", "X"],
            "argument --start: '2026-13-01' is not a date YYYY-MM-DD",
        ),
        (["validate", "--data", "MISSING"], "argument --data: MISSING: does not exist"),
        (["assign", "--data", "MISSING", "--out", "X"], "argument --data: MISSING: does not exist"),
        (["train", "--data", "MISSING", "--out", "X"], "argument --data: MISSING: does not exist"),
        (["serve", "--data", "MISSING", "--demo"], "argument --data: MISSING: does not exist"),
        (["validate", "--data", "FILE"], "argument --data: FILE: is a file, not a folder"),
        (["models", "list", "--registry", "MISSING"], "argument --registry: MISSING: does not exist"),
    ],
)
def test_bad_flags_are_named_in_one_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("x")
    code, err = run_exit(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "gigmatch.db").exists() and not (tmp_path / "X").exists()


def test_serve_leaves_no_database_behind_when_the_market_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    market = county(tmp_path, own_vocabulary=False)
    (market / "workers.csv").write_text("worker_id,lat,lon,skills\nw1,95,117,cook\n")
    code, err = run_exit(["serve", "--data", str(market), "--db", str(tmp_path / "g.db"), "--demo"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        "gigmatch serve: error: workers.csv: row 1, column 'lat': 95 is outside [-90, 90]"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain"]


def test_the_progress_bar_only_moves_forward():
    stages = ["load", "encode", "retrieve", "features", "score", "solve", "explain", "write"]
    with Progress(disable=True) as progress:
        task = progress.add_task("assign", total=len(stages))
        step = StageProgress(progress, task, stages)
        seen = []
        # the batch run's candidate rounds repeat features, score and solve
        for stage in [
            *stages[:6],
            "features",
            "score",
            "solve",
            "features",
            "score",
            "solve",
            "explain",
            "write",
        ]:
            step(stage)
            seen.append((progress.tasks[0].completed, progress.tasks[0].description))
    completed = [c for c, _ in seen]
    assert completed == sorted(completed) and completed[-1] == len(stages) - 1
    assert seen[6][1] == "features (round 2)" and seen[11][1] == "solve (round 3)"
