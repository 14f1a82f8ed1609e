"""`mpesa-till` when something around it is wrong: one clear line on stderr and a non-zero exit, never a
traceback or an abort inside Qt."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import CliResult, run_cli, run_cli_at_terminal

EXIT_USAGE = 2


def assert_one_clear_line(result: CliResult, *words: str) -> None:
    assert result.code == EXIT_USAGE, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]


async def test_report_csv_into_a_missing_folder_or_onto_a_folder_says_which_file_and_why(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing" / "day.csv"
    result = await run_cli("report", "--demo", "--csv", str(missing), env=clean_env)
    assert_one_clear_line(result, str(missing), "No such file or directory")

    result = await run_cli("report", "--demo", "--csv", str(tmp_path), env=clean_env)
    assert_one_clear_line(result, str(tmp_path), "Is a directory")


async def test_ctrl_d_at_the_set_pin_prompt_changes_nothing(clean_env: dict[str, str]) -> None:
    result = await run_cli_at_terminal(
        "set-pin", "--demo", env=clean_env, wait_for="New owner PIN", keys=b"\x04"
    )
    assert result.code == EXIT_USAGE, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "No PIN entered; nothing changed."
    assert "Owner PIN saved" not in result.stdout

    # Nothing was saved: with no PIN set, setting one asks for no current PIN.
    again = await run_cli("set-pin", "--demo", env={**clean_env, "MPESA_TILL_NEW_PIN": "2468"})
    assert again.code == 0 and "Owner PIN saved" in again.stdout, again.stderr


async def test_set_pin_from_a_script_changes_a_pin_with_mpesa_till_pin_or_says_to_set_it(
    clean_env: dict[str, str],
) -> None:
    first = await run_cli("set-pin", "--demo", env={**clean_env, "MPESA_TILL_NEW_PIN": "2468"})
    assert first.code == 0, first.stderr

    no_current = await run_cli("set-pin", "--demo", env={**clean_env, "MPESA_TILL_NEW_PIN": "1357"})
    assert_one_clear_line(no_current, "No terminal", "MPESA_TILL_PIN")

    changed = await run_cli(
        "set-pin", "--demo", env={**clean_env, "MPESA_TILL_PIN": "2468", "MPESA_TILL_NEW_PIN": "1357"}
    )
    assert changed.code == 0 and "Owner PIN saved" in changed.stdout, changed.stderr


async def test_receipt_without_a_terminal_says_to_use_mpesa_till_pin(clean_env: dict[str, str]) -> None:
    result = await run_cli("receipt", "--demo", "SALE1", "QK81XYZ7PA", env=clean_env)
    assert_one_clear_line(result, "No terminal", "MPESA_TILL_PIN")


async def test_the_window_without_a_display_says_how_to_run_it(clean_env: dict[str, str]) -> None:
    env = {k: v for k, v in clean_env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = await run_cli(env=env)
    assert_one_clear_line(result, "No display", "QT_QPA_PLATFORM=offscreen", "xvfb-run")
