"""`mpesa-relay` commands, run in-process through `relay.cli.main`."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from relay.cli import main
from relay.db import Database
from relay.migrate import current_revision, head_revision
from relay.models import raw_table
from relay.settings import environment_variables
from tests.relay.conftest import SEED_CHECKOUT_ID, auth, fixture_bytes, registration
from tests.support.relay_fixtures import RelayFactory, RunningRelay


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'relay.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's folder
    return url


async def test_migrate_brings_an_empty_database_to_the_newest_schema(database_url: str) -> None:
    code, out, _ = await asyncio.to_thread(run, "migrate")
    assert code == 0
    assert head_revision() in out
    assert await current_revision(database_url) == head_revision()


async def test_create_till_key_prints_the_callback_path_and_the_key_last(
    database_url: str, relay_factory: RelayFactory
) -> None:
    code, out, _ = await asyncio.to_thread(run, "create-till-key", "front")
    assert code == 0
    lines = out.strip().splitlines()
    key = lines[-1]
    assert key.startswith("rk_") and len(key) > 40
    [path_line] = [line for line in lines if line.startswith("callback path: ")]
    path = path_line.removeprefix("callback path: ")
    relay = await relay_factory(database_url=database_url)
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        till = (await client.get("/api/v1/till", headers=auth(key))).json()
    assert till == {"name": "front", "callback_path": path, "shop": None}


async def test_a_second_key_for_an_active_till_is_refused_until_revoked(database_url: str) -> None:
    assert (await asyncio.to_thread(run, "create-till-key", "front"))[0] == 0
    code, _, err = await asyncio.to_thread(run, "create-till-key", "front")
    assert code == 1
    assert "revoke" in err
    assert (await asyncio.to_thread(run, "revoke-till-key", "front"))[0] == 0
    assert (await asyncio.to_thread(run, "create-till-key", "front"))[0] == 0


async def test_revoking_an_unknown_till_fails_clearly(database_url: str) -> None:
    code, _, err = await asyncio.to_thread(run, "revoke-till-key", "nobody")
    assert code == 1
    assert "nobody" in err


def test_the_key_is_stored_hashed_never_in_clear(database_url: str) -> None:
    _, out, _ = run("create-till-key", "front")
    key = out.strip().splitlines()[-1]
    database_file = Path(database_url.split("///", 1)[1])
    assert key.encode() not in database_file.read_bytes()


async def test_simulate_callback_posts_a_realistic_callback_that_settles_a_payment(
    relay_server: RunningRelay,
) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_SIM1", 25), headers=auth(key))
        code, out, _ = await asyncio.to_thread(
            run,
            "simulate-callback",
            "ws_CO_SIM1",
            "--amount",
            "25",
            "--receipt",
            "TKL9988776",
            "--phone",
            "0708374149",
            "--url",
            relay_server.base_url + path,
        )
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert code == 0
    assert out.startswith("HTTP 200")
    assert (status["status"], status["transactionId"], status["paid_amount_kes"]) == (
        "completed",
        "TKL9988776",
        25,
    )


async def test_simulate_callback_with_a_failure_code_fails_the_payment(relay_server: RunningRelay) -> None:
    key, path = await relay_server.create_till("front")
    async with httpx.AsyncClient(base_url=relay_server.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", "ws_CO_SIM2", 25), headers=auth(key))
        code, _, _ = await asyncio.to_thread(
            run,
            "simulate-callback",
            "ws_CO_SIM2",
            "--result-code",
            "1032",
            "--url",
            relay_server.base_url + path,
        )
        status = (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()
    assert code == 0
    assert (status["status"], status["result_code"], status["reason"]) == (
        "failed",
        "1032",
        "Request cancelled by user",
    )


async def test_simulate_callback_to_nowhere_says_so(database_url: str) -> None:
    code, _, err = await asyncio.to_thread(
        run, "simulate-callback", "ws_CO_X", "--url", "http://127.0.0.1:9/cb"
    )
    assert code == 1
    assert "could not reach" in err


async def test_replay_applies_a_callback_the_allow_list_refused_once_it_is_fixed(
    database_url: str, relay_factory: RelayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = await relay_factory(database_url=database_url, ip_allowlist_enabled=True)
    key, path = await relay.create_till("front")
    body = fixture_bytes("callback_seed_curl.json")
    async with httpx.AsyncClient(base_url=relay.base_url) as client:
        await client.post("/api/v1/payments", json=registration("o", SEED_CHECKOUT_ID), headers=auth(key))
        await client.post(path, content=body)
        assert (await client.get("/api/v1/payments/o/status", headers=auth(key))).json()[
            "status"
        ] == "pending"
        db = Database(database_url)
        try:
            raw_id = await db.read(lambda c: c.execute(sa.select(raw_table.c.id)).scalar_one())
        finally:
            await db.dispose()
        monkeypatch.setenv("RELAY_IP_ALLOWLIST", "false")
        code, out, _ = await asyncio.to_thread(run, "replay", str(raw_id))
        assert code == 0
        assert "applied" in out
        status = (await client.get("/api/v1/payments/o/status?wait=5", headers=auth(key))).json()
    assert (status["status"], status["transactionId"]) == ("completed", "NLJ7RT61SV")
    code, _, err = await asyncio.to_thread(run, "replay", str(raw_id))
    assert code == 1
    assert "processed already" in err


async def test_replay_of_an_unknown_id_fails_clearly(database_url: str) -> None:
    code, _, err = await asyncio.to_thread(run, "replay", "999")
    assert code == 1
    assert "999" in err


async def test_doctor_names_each_problem_on_its_own_line_and_exits_non_zero(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = await asyncio.to_thread(run, "doctor", "--url", "http://127.0.0.1:9")
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM: ")]
    assert code == 1
    assert len(problems) == 2
    assert "migrate" in problems[0]
    assert "unreachable" in problems[1]


async def test_doctor_is_content_with_a_migrated_database_with_a_till_and_a_live_relay(
    database_url: str, relay_factory: RelayFactory
) -> None:
    await asyncio.to_thread(run, "create-till-key", "front")
    relay = await relay_factory(database_url=database_url)
    code, out, _ = await asyncio.to_thread(run, "doctor", "--url", relay.base_url)
    assert code == 0, out
    assert "no problems found" in out


async def test_doctor_refuses_a_bad_setting_with_the_variable_name(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_BUSINESS_HOURS", "nine to five")
    code, _, err = await asyncio.to_thread(run, "doctor")
    assert code == 2
    assert "RELAY_BUSINESS_HOURS" in err


def test_doctor_reports_an_unreachable_postgresql(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:9/nothing")
    code, out, _ = run("doctor")
    assert code == 1
    assert "PROBLEM: database: cannot reach" in out


@pytest.mark.parametrize("command", ["doctor", "serve", "migrate"])
def test_an_unsupported_database_is_one_clear_line_not_a_traceback(
    command: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "mysql://x/y")
    code, out, err = run(command)
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("configuration: DATABASE_URL must be sqlite or postgresql")
    assert line.endswith("not mysql")


def test_a_database_url_that_does_not_parse_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "hunter2-not-a-url")
    code, _, err = run("doctor")
    assert code == 2
    assert "DATABASE_URL must be sqlite or postgresql" in err
    assert "hunter2" not in err


async def test_a_dotenv_file_in_the_working_folder_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    from_file = tmp_path / "from-dotenv.db"
    (tmp_path / ".env").write_text(f"MPESA_SHORTCODE=174379\nDATABASE_URL=sqlite+aiosqlite:///{from_file}\n")
    assert (await asyncio.to_thread(run, "migrate"))[0] == 0
    assert await current_revision(f"sqlite+aiosqlite:///{from_file}") == head_revision()

    from_environment = tmp_path / "from-environment.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{from_environment}")
    assert (await asyncio.to_thread(run, "migrate"))[0] == 0
    assert await current_revision(f"sqlite+aiosqlite:///{from_environment}") == head_revision()


def test_a_bad_value_in_the_dotenv_file_names_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("RELAY_IP_ALLOWLIST=sometimes\n")
    code, _, err = run("doctor")
    assert code == 2
    assert err.strip() == "configuration: RELAY_IP_ALLOWLIST must be true or false, not 'sometimes'"


def test_help_lists_every_setting_the_relay_reads(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run("--help")
    assert exited.value.code == 0
    listed = capsys.readouterr().out
    for variable, _field in environment_variables():
        assert f"\n  {variable} " in listed
    assert "DATABASE_URL" in listed and "RELAY_MIGRATE_ON_START" in listed
