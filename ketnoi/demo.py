"""``ketnoi demo``: infrastructure, services, a small stream of offers and demands, the matches."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import httpx

from ketnoi import demo_data
from ketnoi.infra import Infra, InfraError
from ketnoi.infra.processes import wait_until
from ketnoi.infra.prune import write_lease
from ketnoi.runner import ServiceGroup
from ketnoi.settings import Settings
from schemas.reference.units import unit_name


def run_demo(base: Settings, keep_running: bool = True) -> int:
    # Each demo run gets its own topics and database, so it shows this run's matches only.
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    settings = base.model_copy(
        update={"topic_prefix": f"demo-{run_id}.", "mongo_db": f"ketnoi_demo_{run_id}"}
    )
    infra = Infra(settings)
    services = ServiceGroup(settings, settings.home / "demo" / run_id)
    started: list[str] = []
    reused: list[str] = []
    running = False
    write_lease(settings, f"demo-{run_id}")  # `ketnoi infra prune` keeps it while we run
    try:
        _refuse_busy_gateway_port(settings)
        print("1/4 starting Kafka and the store (first run fetches jars and builds FerretDB) ...")
        up = infra.up()
        started, reused = up.started, up.reused
        print("2/4 starting gateway, matcher and recorder ...")
        services.start()
        services.wait_gateway_ready()
        today = datetime.now(UTC).date()
        offer_bodies, demand_bodies = demo_data.offers(today), demo_data.demands(today)
        print(
            f"3/4 opening a trade-connection session, posting {len(offer_bodies)} offers and "
            f"{len(demand_bodies)} demands in it ..."
        )
        # The demo acts as the platform's admin, with a key of its own in its own database.
        headers = {"Authorization": f"Bearer {_key(settings, 'ketnoi-demo', 'admin')}"}
        with httpx.Client(base_url=settings.gateway_url, timeout=10.0, headers=headers) as http:
            session_id = _open_session(http, services, today)
            inside = {"session_id": session_id}
            offer_ids = [_post(http, "/v1/offers", body, inside) for body in offer_bodies]
            demand_ids = [_post(http, "/v1/demands", body, inside) for body in demand_bodies]
            print("4/4 waiting for the matcher's decisions ...")
            offers = _wait_recorded(http, "offers", offer_ids, services, lambda doc: True)
            demands = _wait_recorded(
                http, "demands", demand_ids, services, lambda doc: bool(doc.get("match_status"))
            )
            matches = http.get("/v1/matches").json()["items"]
            print("   both parties accept the first proposals ...")
            confirmed = _confirm_some(http, settings, services, matches)
            print("   meetings scheduled for them; both sides of the first state a contract ...")
            meetings = _meet_and_agree(http, services, session_id, today)
        _print_results(offers, demands, matches)
        print(f"\n== {len(confirmed)} match(es) confirmed by both parties / đã xác nhận, "
              f"{len(meetings)} meeting(s) scheduled / cuộc gặp ==")  # fmt: skip
        organizer_key = _key(settings, demo_data.ORGANIZER, "organizer")
        print(f"\nLive monitor:      {settings.gateway_url}/monitor/sessions/{session_id}")
        print(f"  organizer key:   {organizer_key}")
        print(f"  (paste the key at {settings.gateway_url}/monitor/login)")
        print(
            f"Report (organizer key as Bearer): {settings.gateway_url}/v1/sessions/"
            f"{session_id}/report?format=html  or  ketnoi report session {session_id}"
        )
        print(f"Gateway API docs:  {settings.gateway_url}/docs")
        print(f"Matches (JSON):    {settings.gateway_url}/v1/matches")
        print(f"Logs:              {services.log_dir}")
        if keep_running:
            print("\nRunning. Press Ctrl-C to stop everything.")
            running = True
            _wait_for_ctrl_c()
        return 0
    except InfraError as exc:
        print(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        # Ctrl-C is how a running demo is meant to end: a success, not an error for make.
        if not running:
            print("\ninterrupted")
            return 130
        print()
        return 0
    finally:
        _stop(services, infra, started, reused, f"demo-{run_id}")


def _stop(
    services: ServiceGroup, infra: Infra, started: list[str], reused: list[str], run: str
) -> None:
    """Stop what the demo started and say so in one line (what it did not start, it names as
    left running); a second Ctrl-C does not cut this short, which would leave processes."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ran = bool(services.procs)
        if ran or started:
            print("stopping ...", flush=True)
        services.stop()
        if started:
            infra.down(only=started)
        stopped = ["the gateway, matcher and recorder"] if ran else []
        stopped += [_LONG[name] for name in started]
        if not stopped:
            return
        line = f"stopped {_join(stopped)}"
        if reused:
            line += f"; {_join([_LONG[name] for name in reused])} kept running (they ran before)"
        if ran:
            line += f". Its topics and database ({run}) stay until `ketnoi infra prune`"
        print(line + ".")
    finally:
        signal.signal(signal.SIGINT, previous)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


_LONG = {"kafka": "Kafka", "store": "the store"}


def _key(settings: Settings, org_id: str, role: str) -> str:
    from pymongo import MongoClient

    from services.gateway.keys import create_key

    client: MongoClient = MongoClient(settings.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        return create_key(client[settings.mongo_db], org_id, role, label="demo").key
    finally:
        client.close()


def _post(http: httpx.Client, path: str, body: dict, params: dict | None = None) -> str:
    response = http.post(path, json=body, params=params)
    if response.status_code != 202:
        raise InfraError(f"POST {path} answered {response.status_code}: {response.text}")
    return response.json()["id"]


def _confirm_some(
    http: httpx.Client, settings: Settings, services: ServiceGroup, matches: list[dict]
) -> list[str]:
    """Both parties accept one proposal per demand (its largest), as a session's floor does: the
    monitor then shows confirmed volume and value, not only proposals."""
    chosen: dict[str, dict] = {}
    for m in sorted(matches, key=lambda m: (-m["quantity_kg"], m["match_id"])):
        chosen.setdefault(m["demand_id"], m)
    keys: dict[tuple[str, str], str] = {}
    for m in chosen.values():
        for org_id, role in ((m["buyer_id"], "retailer"), (m["supplier_id"], "supplier")):
            if (org_id, role) not in keys:
                keys[org_id, role] = _key(settings, org_id, role)
            party = {"Authorization": f"Bearer {keys[org_id, role]}"}
            response = http.post(f"/v1/matches/{m['match_id']}/accept", headers=party)
            if response.status_code != 202:
                raise InfraError(f"accepting {m['match_id']} answered {response.status_code}: "
                                 f"{response.text}")  # fmt: skip
    ids = [m["match_id"] for m in chosen.values()]
    _wait_recorded(http, "matches", ids, services, lambda doc: doc["status"] == "confirmed")
    return ids


def _meet_and_agree(
    http: httpx.Client, services: ServiceGroup, session_id: str, today: date
) -> list[dict]:
    """A morning of 20-minute meetings at four tables; the first meeting ends in a contract
    both sides state, so the report counts it as agreed."""
    url = f"/v1/sessions/{session_id}"
    response = http.put(f"{url}/meeting-plan", json=demo_data.meeting_plan(today))
    if response.status_code != 202:
        raise InfraError(f"PUT {url}/meeting-plan answered {response.status_code}: "
                         f"{response.text}")  # fmt: skip
    _wait_until(services, "meeting plan recorded",
                lambda: bool(http.get(f"{url}/meeting-plan").json().get("slots")))  # fmt: skip
    run = http.post(f"{url}/meetings:schedule")
    if run.status_code != 202:
        raise InfraError(f"scheduling answered {run.status_code}: {run.text}")
    placed = run.json()["placed"] + run.json()["kept"]
    meetings: list[dict] = []

    def scheduled() -> bool:
        meetings[:] = http.get(f"{url}/meetings", params={"limit": 200}).json()["items"]
        return len(meetings) >= placed

    _wait_until(services, "meetings recorded", scheduled)
    with_matches = [m for m in meetings if m.get("match_ids")]
    if with_matches:
        first = min(with_matches, key=lambda m: (m["slot"], m["table"]))
        match = http.get(f"/v1/matches/{first['match_ids'][0]}").json()
        contract = demo_data.contract(match, today)
        for party in ("buyer", "supplier"):
            _post(http, f"/v1/meetings/{first['meeting_id']}/outcome", {**contract, "party": party})
        outcome = f"/v1/meetings/{first['meeting_id']}/outcome"
        _wait_until(services, "the contract agreed by both sides",
                    lambda: bool(http.get(outcome).json().get("agreed")))  # fmt: skip
    return meetings


def _open_session(http: httpx.Client, services: ServiceGroup, today: date) -> str:
    """Register the organizations, create the session, register its participants, open it."""
    orgs = demo_data.organizations()
    for org in orgs:
        _post(http, "/v1/organizations", org)
    _wait_until(services, "organizations recorded",
                lambda: all(http.get(f"/v1/organizations/{o['org_id']}").status_code == 200
                            for o in orgs))  # fmt: skip
    session_id = _post(http, "/v1/sessions", demo_data.session(today))
    url = f"/v1/sessions/{session_id}"
    _wait_until(services, "session recorded", lambda: http.get(url).status_code == 200)
    parties = [(o["org_id"], "supplier" if o["kind"] in ("cooperative",) else "buyer")
               for o in orgs if o["kind"] != "organizer"]  # fmt: skip
    for org_id, party in parties:
        _post(http, f"{url}/participants", {"org_id": org_id, "party": party})
    joined = f"{url}/participants"
    _wait_until(services, "participants registered",
                lambda: http.get(joined).json()["count"] == len(parties))  # fmt: skip
    _post(http, f"{url}/open", {})
    _wait_until(services, "session open", lambda: http.get(url).json()["status"] == "open")
    return session_id


def _wait_until(
    services: ServiceGroup,
    what: str | Callable[[], str],
    done: Callable[[], bool],
    timeout: float = 60.0,
) -> None:
    """Poll ``done`` while the services run; at the deadline, fail saying ``what`` (or what it
    returns then) was not reached."""

    def check() -> bool:
        services.raise_if_exited()
        return done()

    if not wait_until(check, timeout, interval=0.25):
        raise InfraError(f"timed out after {timeout:.0f}s waiting for: "
                         f"{what() if callable(what) else what}")  # fmt: skip


def _wait_recorded(
    http: httpx.Client,
    resource: str,
    ids: list[str],
    services: ServiceGroup,
    done: Callable[[dict], bool],
    timeout: float = 90.0,
) -> dict[str, dict]:
    """Poll the API until every id is recorded and ``done`` (e.g. the matcher has decided)."""
    found: dict[str, dict] = {}

    def all_done() -> bool:
        for item_id in ids:
            if item_id not in found:
                response = http.get(f"/v1/{resource}/{item_id}")
                if response.status_code == 200 and done(response.json()):
                    found[item_id] = response.json()
        return len(found) == len(ids)

    _wait_until(services, lambda: f"{resource} recorded (only {len(found)}/{len(ids)})",
                all_done, timeout)  # fmt: skip
    return found


def _print_results(offers: dict[str, dict], demands: dict[str, dict], matches: list[dict]) -> None:
    print(f"\n== {len(matches)} proposal(s) / đề xuất ghép nối ==")
    for m in sorted(matches, key=lambda m: (m["buyer_id"], -m["quantity_kg"])):
        offer = offers[m["offer_id"]]
        origin = offer["origin_province"]
        legacy = f" (formerly {origin['legacy_name']})" if origin["legacy_name"] else ""
        print(
            f"  {offer['product']['name']} ({m['supplier_id']}, {origin['name']}{legacy})"
            f" -> {m['buyer_id']}: {m['quantity_kg']:,.0f} kg at {m['unit_price_vnd']:,} "
            f"VND/{unit_name(m['price_unit'])}, score {m['score']:.0f}/100"
        )
    print(f"\n== {len(demands)} demand(s) / nhu cầu ==")
    for demand_id, d in demands.items():
        mine = [m for m in matches if m["demand_id"] == demand_id]
        proposed = sum(m["quantity_kg"] for m in mine)
        line = (f"  {d['buyer_id']} wants {d['quantity_kg']:,.0f} kg {d['criteria']['category']}:"
                f" {proposed:,.0f} kg proposed by {len(mine)} supplier(s)")  # fmt: skip
        if d["match_status"] == "open":
            line += f"; open {d['open_kg']:,.0f} kg: {d['unmatched_reason']}"
        print(line)


def _wait_for_ctrl_c() -> None:
    while True:  # SIGINT and SIGTERM raise KeyboardInterrupt (see ketnoi.cli.main)
        time.sleep(3600)


def _refuse_busy_gateway_port(settings: Settings) -> None:
    """A gateway left running on the port (an earlier `ketnoi gateway &`) would answer this
    demo's requests from another database: a misleading 401. Say who holds the port instead."""
    from ketnoi.running import busy_port_message, port_in_use

    if port_in_use(settings.gateway_host, settings.gateway_port):
        message = busy_port_message(settings.gateway_host, settings.gateway_port)
        raise InfraError(f"the demo cannot start its gateway: {message}")
