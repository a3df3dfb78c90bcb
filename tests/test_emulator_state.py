"""Concurrency, restarts, faults and the no-plaintext-at-rest guarantee of the emulator."""

from __future__ import annotations

import contextlib
import stat
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest

from pcc_env.testing import run_emulator


def client(emu: object) -> httpx.Client:
    return httpx.Client(
        base_url=emu.api_host,  # type: ignore[attr-defined]
        headers={"Authorization": f"Bearer {emu.token}"},  # type: ignore[attr-defined]
        timeout=30,
    )


def test_concurrent_writers_get_202_or_409_and_nothing_is_lost() -> None:
    writers, rounds = 16, 8
    with run_emulator(provision_delay=0.0, latency_ms=5) as emu:
        outcomes: dict[int, list[tuple[int, int]]] = {t: [] for t in range(writers)}
        barrier = threading.Barrier(writers)

        def writer(t: int) -> None:
            with client(emu) as api:
                barrier.wait()
                for i in range(rounds):
                    body = {
                        "secrets": [
                            {"secretKey": f"T{t}_A", "secretValue": f"{t}-{i}-a"},
                            {"secretKey": f"T{t}_B", "secretValue": f"{t}-{i}-b"},
                        ]
                    }
                    r = api.put("/v1/secrets/shared-set", json=body)
                    outcomes[t].append((i, r.status_code))

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(writers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

        statuses = Counter(code for results in outcomes.values() for _, code in results)
        assert set(statuses) <= {202, 409}, statuses
        assert statuses[409] > 0, "writes overlapped in time, some must conflict"
        for t, results in outcomes.items():
            accepted = [i for i, code in results if code == 202]
            if not accepted:
                assert not emu.check_value("shared-set", f"T{t}_A", f"{t}-0-a")
                continue
            last = accepted[-1]
            # both keys of the last accepted write are there: not lost, not half-applied
            assert emu.check_value("shared-set", f"T{t}_A", f"{t}-{last}-a")
            assert emu.check_value("shared-set", f"T{t}_B", f"{t}-{last}-b")
            for i, code in results:
                if code == 409 and i > last:
                    assert not emu.check_value("shared-set", f"T{t}_A", f"{t}-{i}-a")
        applied = [w for w in emu.stats()["writes"] if w["method"] == "PUT"]
        assert len(applied) == statuses[202]


def test_state_survives_restart_and_file_holds_no_value(tmp_path: Path) -> None:
    db = tmp_path / "state" / "emulator.sqlite3"
    canary = "canary-0d9f2b7c51e8-at-rest"
    with run_emulator(db=str(db), provision_delay=0.0) as emu, client(emu) as api:
        body = {"secrets": [{"secretKey": "CANARY", "secretValue": canary}], "region": "eu-central"}
        assert api.put("/v1/secrets/kept-set", json=body).status_code == 202
        assert (
            api.put(
                "/v1/secrets/pull-set",
                json={"isImagePullSecret": True, "host": "h", "secretValue": canary},
            ).status_code
            == 202
        )
    with run_emulator(db=str(db), provision_delay=0.0) as emu, client(emu) as api:
        detail = api.get("/v1/secrets/kept-set").json()
        assert detail == {
            "region": "eu-central",
            "status": "ready",
            "secrets": [{"fieldName": "CANARY"}],
        }
        assert emu.check_value("kept-set", "CANARY", canary)
        assert emu.check_value("pull-set", None, canary)
    files = [p for p in db.parent.iterdir()]
    assert db in files
    for path in files:
        assert canary.encode() not in path.read_bytes(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_fault_injection_modes() -> None:
    with run_emulator(provision_delay=0.0, fault_rate=1.0, fault_seed=7) as emu, client(emu) as api:
        seen: Counter[str] = Counter()
        applied_after_drop = 0
        for i in range(60):
            key = f"K{i}"
            try:
                r = api.put(
                    "/v1/secrets/faulty-set",
                    json={"secrets": [{"secretKey": key, "secretValue": "v"}]},
                )
            except httpx.TransportError:
                seen["dropped"] += 1
                applied_after_drop += emu.check_value("faulty-set", key, "v")
                continue
            seen[str(r.status_code)] += 1
            assert r.status_code in (500, 409)
            assert r.json()["code"] in ("INTERNAL_ERROR", "CONFLICT")
            assert not emu.check_value("faulty-set", key, "v")
        faults = emu.stats()["faults"]
        assert set(faults) == {"500", "409", "drop-before", "drop-after"}
        assert seen["500"] == faults["500"] and seen["409"] == faults["409"]
        assert seen["dropped"] == faults["drop-before"] + faults["drop-after"]
        assert applied_after_drop == faults["drop-after"]
        # reads are never faulted
        assert api.get("/v1/secrets").status_code == 200


def test_fault_rate_applies_to_that_fraction_of_writes() -> None:
    with run_emulator(provision_delay=0.0, fault_rate=0.3, fault_seed=1) as emu, client(emu) as api:
        for i in range(200):
            with contextlib.suppress(httpx.TransportError):
                api.put(
                    "/v1/secrets/rate-set",
                    json={"secrets": [{"secretKey": f"K{i}", "secretValue": "v"}]},
                )
        total = sum(emu.stats()["faults"].values())
        assert 40 <= total <= 80, total


def test_memory_db_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with run_emulator(db=":memory:", provision_delay=0.0) as emu, client(emu) as api:
        api.put("/v1/secrets/mem-set", json={"secrets": [{"secretKey": "K", "secretValue": "v"}]})
    assert list(tmp_path.iterdir()) == []
