"""Organization identity: every cell of the README's two tables, on the real gateway and store.

"Who may register or change an organization" is one case per (row, role): each builds what the
row needs with fresh ids (its own caller, the target and whoever registered it), tries the
action once and checks the status and the problem. "Which key may be issued" runs the real
``ketnoi keys create`` against the session's database. Then the attacks that issue 12 measured
(a province re-registering a retailer and an organizer of its province as cooperatives, and
claiming an id that had a key) and the races the claims exist for.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from ketnoi import cli
from ketnoi.settings import Settings
from schemas.reference.provinces import normalise_province
from services.gateway.keys import KeyRefused, create_key
from tests.factories import offer_body
from tests.support import eventually

pytestmark = pytest.mark.infra

HOME, ELSEWHERE = "Sơn La", "Cao Bằng"
ROLES = ("admin", "province", "organizer", "supplier", "retailer")
OWN_KIND = {
    "admin": "organizer",
    "province": "organizer",
    "organizer": "organizer",
    "supplier": "cooperative",
    "retailer": "supermarket-chain",
}
FOREIGN_KIND = {  # a kind the role's key does not act for (any kind fits an admin key)
    "admin": "cooperative",
    "province": "cooperative",
    "organizer": "cooperative",
    "supplier": "supermarket-chain",
    "retailer": "cooperative",
}
OTHER_KIND = {  # another kind, for "change its own kind" (within the role where it has one)
    "admin": "trade-centre",
    "province": "enterprise",
    "organizer": "enterprise",
    "supplier": "household",
    "retailer": "trade-centre",
}


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Actor:
    role: str
    org_id: str
    key: str
    http: httpx.Client

    def register(
        self,
        org_id: str,
        kind: str,
        province: str = HOME,
        name: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        body = {
            "org_id": org_id,
            "name": name or f"Đơn vị {org_id}",
            "kind": kind,
            "province": province,
            **extra,
        }
        return self.post("/v1/organizations", body)

    def post(self, path: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return self.http.post(path, json=body, headers=headers, **kw)


class World:
    """Makes the callers and targets of the cases, each with fresh ids."""

    def __init__(
        self, http: httpx.Client, issue_key: Callable[..., str], admin_key: str, mongo: Any
    ) -> None:
        self.http = http
        self.issue_key = issue_key
        self.admin = Actor("admin", "ketnoi-admin", admin_key, http)
        self.mongo = mongo

    def actor(self, role: str, *, registered: bool = True) -> Actor:
        """A caller of this role with an id of its own, registered by itself in HOME (or not)."""
        org_id = _unique(f"own-{role}")
        key = self.issue_key(org_id, role, HOME if role == "province" else None)
        actor = Actor(role, org_id, key, self.http)
        if registered:
            _expect(actor.register(org_id, OWN_KIND[role]), 202)
        return actor

    def by_admin(self, kind: str, province: str = HOME) -> str:
        org_id = _unique(f"by-admin-{kind}")
        _expect(self.admin.register(org_id, kind, province), 202)
        return org_id

    def by_office(self, office: Actor | None = None) -> str:
        """A cooperative of HOME registered by a province office (a new one unless given)."""
        office = office or self.actor("province")
        org_id = _unique("htx-by-office")
        _expect(office.register(org_id, "cooperative"), 202)
        return org_id

    def keyed(self, role: str) -> str:
        """An id nobody registered, with a key of this role issued for it."""
        org_id = _unique(f"keyed-{role}")
        self.issue_key(org_id, role, HOME if role == "province" else None)
        return org_id

    def registered_by(self, caller: Actor) -> str:
        """A cooperative of HOME that the caller registered, where its role can; for the
        others (who never register another organization) one a province office registered."""
        if caller.role in ("admin", "province"):
            org_id = _unique("htx-mine")
            _expect(caller.register(org_id, "cooperative"), 202)
            return org_id
        return self.by_office()


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    assert response.status_code == status, response.text
    return response


@pytest.fixture(scope="module")
def world(services, issue_key, admin_key, mongo) -> Iterator[World]:
    with httpx.Client(base_url=services.settings.gateway_url, timeout=10.0) as http:
        yield World(http, issue_key, admin_key, mongo)


# --- the actions of the table: each returns the answer to the one request the row is about --


def own_first(w: World, role: str) -> httpx.Response:
    me = w.actor(role, registered=False)
    return me.register(me.org_id, OWN_KIND[role])


def own_foreign_kind(w: World, role: str) -> httpx.Response:
    me = w.actor(role, registered=False)
    return me.register(me.org_id, FOREIGN_KIND[role])


def own_elsewhere(w: World, role: str) -> httpx.Response:
    me = w.actor(role, registered=False)
    return me.register(me.org_id, OWN_KIND[role], ELSEWHERE)


def own_rename(w: World, role: str) -> httpx.Response:
    me = w.actor(role)
    return me.register(me.org_id, OWN_KIND[role], name="Tên mới", tax_code="0101234567")


def own_rename_after_admin(w: World, role: str) -> httpx.Response:
    org_id = w.by_admin(OWN_KIND[role])
    # Registered first, so the key is bound without --unregistered.
    key = create_key(w.mongo, org_id, role, HOME if role == "province" else None).key
    me = Actor(role, org_id, key, w.http)
    return me.register(org_id, OWN_KIND[role], name="Tên do chính mình đặt")


def own_resend(w: World, role: str) -> httpx.Response:
    me = w.actor(role)
    return me.register(me.org_id, OWN_KIND[role])


def own_kind(w: World, role: str) -> httpx.Response:
    me = w.actor(role)
    return me.register(me.org_id, OTHER_KIND[role])


def own_move(w: World, role: str) -> httpx.Response:
    me = w.actor(role)
    return me.register(me.org_id, OWN_KIND[role], ELSEWHERE)


def new_supplier_home(w: World, role: str) -> httpx.Response:
    return w.actor(role).register(_unique("htx-new"), "cooperative")


def new_buyer_home(w: World, role: str) -> httpx.Response:
    return w.actor(role).register(_unique("sieu-thi-new"), "supermarket-chain")


def new_organizer_home(w: World, role: str) -> httpx.Response:
    return w.actor(role).register(_unique("ttxt-new"), "organizer")


def new_supplier_elsewhere(w: World, role: str) -> httpx.Response:
    return w.actor(role).register(_unique("htx-far"), "cooperative", ELSEWHERE)


def keyed_fitting(w: World, role: str) -> httpx.Response:
    return w.actor(role).register(w.keyed("supplier"), "cooperative")


def keyed_unfitting(w: World, role: str) -> httpx.Response:
    return w.actor(role).register(w.keyed("retailer"), "cooperative")


def retailer_as_cooperative(w: World, role: str) -> httpx.Response:
    target = w.by_admin("supermarket-chain")
    return w.actor(role).register(target, "cooperative", name="HTX giả")


def organizer_as_cooperative(w: World, role: str) -> httpx.Response:
    target = w.by_admin("organizer")
    return w.actor(role).register(target, "cooperative", name="HTX giả")


def sibling_rename(w: World, role: str) -> httpx.Response:
    target = w.by_office()
    return w.actor(role).register(target, "cooperative", name="Tên khác")


def registrar_rename(w: World, role: str) -> httpx.Response:
    me = w.actor(role)
    return me.register(w.registered_by(me), "cooperative", name="HTX đổi tên")


def registrar_rename_keyed(w: World, role: str) -> httpx.Response:
    me = w.actor(role)
    target = w.registered_by(me)
    w.issue_key(target, "supplier")
    return me.register(target, "cooperative", name="HTX đổi tên")


def registrar_kind(w: World, role: str) -> httpx.Response:
    me = w.actor(role)
    return me.register(w.registered_by(me), "household")


def registrar_move(w: World, role: str) -> httpx.Response:
    me = w.actor(role)
    return me.register(w.registered_by(me), "cooperative", ELSEWHERE)


def keyed_kind_unfitting(w: World, role: str) -> httpx.Response:
    target = w.by_admin("supermarket-chain")
    w.issue_key(target, "retailer")
    return w.actor(role).register(target, "cooperative")


def recorded_only(w: World, role: str) -> httpx.Response:
    """An organization the recorder wrote from an event produced straight into Kafka (the
    simulator's --with-organizations, data from before claims): nobody claimed it."""
    target = _unique("htx-from-kafka")
    province = normalise_province(HOME).province
    w.mongo.organizations.insert_one(
        {
            "_id": target,
            "name": "HTX từ Kafka",
            "kind": "cooperative",
            "province": {"code": province.code, "name": province.name, "legacy_name": None},
        }
    )
    return w.actor(role).register(target, "cooperative", name="Tên khác")


def _cells(admin: int, province: int, organizer: int, supplier: int, retailer: int) -> dict:
    return dict(zip(ROLES, (admin, province, organizer, supplier, retailer), strict=True))


ALL_202 = _cells(202, 202, 202, 202, 202)
ADMIN_ONLY = _cells(202, 403, 403, 403, 403)
ROWS: dict[str, tuple[Callable[[World, str], httpx.Response], dict[str, int]]] = {
    "register itself, with a kind its role acts for": (own_first, ALL_202),
    "register itself, with a kind its role does not act for": (
        own_foreign_kind,
        _cells(202, 422, 422, 422, 422),
    ),
    "register itself in another province": (own_elsewhere, _cells(202, 403, 202, 202, 202)),
    "rename itself": (own_rename, ALL_202),
    "rename itself after the admin registered it": (own_rename_after_admin, ALL_202),
    "send its registration again unchanged": (own_resend, ALL_202),
    "change its own kind": (own_kind, ADMIN_ONLY),
    "move itself to another province": (own_move, ADMIN_ONLY),
    "register a new supplier of its province": (new_supplier_home, _cells(202, 202, 403, 403, 403)),
    "register a new buyer of its province": (new_buyer_home, ADMIN_ONLY),
    "register a new organizer of its province": (new_organizer_home, ADMIN_ONLY),
    "register a new supplier of another province": (new_supplier_elsewhere, ADMIN_ONLY),
    "claim an id that has a key, as a kind the key acts for": (
        keyed_fitting,
        _cells(202, 409, 403, 403, 403),
    ),
    "claim an id that has a key, as a kind the key does not act for": (
        keyed_unfitting,
        _cells(409, 409, 403, 403, 403),
    ),
    "re-register a retailer of its province as a cooperative": (
        retailer_as_cooperative,
        _cells(202, 409, 403, 403, 403),
    ),
    "re-register an organizer of its province as a cooperative": (
        organizer_as_cooperative,
        _cells(202, 409, 403, 403, 403),
    ),
    "rename a supplier another province office registered": (
        sibling_rename,
        _cells(202, 409, 403, 403, 403),
    ),
    "rename a supplier it registered, no key issued for it": (
        registrar_rename,
        _cells(202, 202, 403, 403, 403),
    ),
    "rename a supplier it registered, once a key was issued for it": (
        registrar_rename_keyed,
        _cells(202, 409, 403, 403, 403),
    ),
    "change the kind of a supplier it registered": (registrar_kind, ADMIN_ONLY),
    "move a supplier it registered to another province": (registrar_move, ADMIN_ONLY),
    "change a kind to one the organization's active key does not act for": (
        keyed_kind_unfitting,
        _cells(409, 409, 403, 403, 403),
    ),
    "change an organization recorded without a claim": (
        recorded_only,
        _cells(202, 409, 403, 403, 403),
    ),
}
CELLS = [(row, role) for row in ROWS for role in ROLES]


@pytest.mark.parametrize(("row", "role"), CELLS)
def test_who_may_register_or_change_an_organization(world, row, role):
    action, expected = ROWS[row]
    response = action(world, role)
    assert response.status_code == expected[role], f"{role}: {row}: {response.text}"
    if response.status_code == 202:
        return
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["errors"] and problem["errors"][0]["path"] in {"org_id", "kind", "province"}
    if problem["type"] == "urn:ketnoi:problem:organization-claimed":
        assert response.status_code == 409 and "platform admin" in problem["detail"]
    elif response.status_code == 409:
        assert problem["type"] == "urn:ketnoi:problem:organization-key-conflict", problem
        assert "ketnoi keys revoke" in problem["detail"]
    if response.status_code in (403, 422) and problem["errors"][0]["path"] != "org_id":
        assert problem["errors"][0]["allowed"], problem


def test_the_table_has_a_case_for_every_cell():
    assert len(CELLS) == len(ROWS) * len(ROLES)
    assert all(set(expected) == set(ROLES) for _, expected in ROWS.values())


# --- which key may be issued: the real `ketnoi keys create` ------------------------------


@pytest.fixture
def keys_cli(infra: Settings, monkeypatch, capsys) -> Callable[..., tuple[int, str]]:
    monkeypatch.setenv("KETNOI_MONGO_URL", infra.mongo_url)
    monkeypatch.setenv("KETNOI_MONGO_DB", infra.mongo_db)

    def run(org_id: str, role: str, *extra: str) -> tuple[int, str]:
        argv = ["keys", "create", "--org", org_id, "--role", role, *extra]
        if role == "province" and "--province" not in extra:
            argv += ["--province", HOME]
        code = cli.main(argv)
        out, err = capsys.readouterr()
        return code, out if code == 0 else err

    return run


SHARES_A_KIND = {  # a role whose keys share a kind of organization with this role's
    "admin": "supplier",
    "province": "organizer",
    "organizer": "province",
    "supplier": "retailer",
    "retailer": "supplier",
}
SHARES_NO_KIND = {
    "admin": "supplier",
    "province": "supplier",
    "organizer": "supplier",
    "supplier": "organizer",
    "retailer": "organizer",
}


def key_registered_fitting(w: World, role: str) -> tuple[str, list[str]]:
    return w.by_admin(OWN_KIND[role]), []


def key_registered_unfitting(w: World, role: str) -> tuple[str, list[str]]:
    return w.by_admin(FOREIGN_KIND[role]), []


def key_registered_elsewhere(w: World, role: str) -> tuple[str, list[str]]:
    return w.by_admin("organizer", ELSEWHERE), []


def key_unregistered(w: World, role: str) -> tuple[str, list[str]]:
    return _unique("nobody"), []


def key_unregistered_flag(w: World, role: str) -> tuple[str, list[str]]:
    return _unique("nobody"), ["--unregistered"]


def key_unregistered_sharing(w: World, role: str) -> tuple[str, list[str]]:
    return w.keyed(SHARES_A_KIND[role]), ["--unregistered"]


def key_unregistered_conflicting(w: World, role: str) -> tuple[str, list[str]]:
    return w.keyed(SHARES_NO_KIND[role]), ["--unregistered"]


OK, NO = True, False
KEY_ROWS: dict[str, tuple[Callable[[World, str], tuple[str, list[str]]], dict[str, bool]]] = {
    "registered, as a kind the role acts for": (
        key_registered_fitting,
        dict.fromkeys(ROLES, OK),
    ),
    "registered, as a kind the role does not act for": (
        key_registered_unfitting,
        {"admin": OK, "province": NO, "organizer": NO, "supplier": NO, "retailer": NO},
    ),
    "registered as an organizer of another province than the key's": (
        key_registered_elsewhere,
        {"admin": OK, "province": NO, "organizer": OK, "supplier": NO, "retailer": NO},
    ),
    "not registered": (
        key_unregistered,
        {"admin": OK, "province": OK, "organizer": NO, "supplier": NO, "retailer": NO},
    ),
    "not registered, --unregistered": (key_unregistered_flag, dict.fromkeys(ROLES, OK)),
    "not registered, with an active key of a role sharing a kind": (
        key_unregistered_sharing,
        dict.fromkeys(ROLES, OK),
    ),
    "not registered, with an active key of a role sharing no kind": (
        key_unregistered_conflicting,
        {"admin": OK, "province": NO, "organizer": NO, "supplier": NO, "retailer": NO},
    ),
}
KEY_CELLS = [(row, role) for row in KEY_ROWS for role in ROLES]


@pytest.mark.parametrize(("row", "role"), KEY_CELLS)
def test_which_key_may_be_issued(world, keys_cli, mongo, row, role):
    arrange, expected = KEY_ROWS[row]
    org_id, extra = arrange(world, role)
    before = mongo.api_keys.count_documents({"org_id": org_id, "role": role})
    code, output = keys_cli(org_id, role, *extra)
    after = mongo.api_keys.count_documents({"org_id": org_id, "role": role})
    if expected[role]:
        assert code == 0 and output.startswith("knk_"), output
        assert after == before + 1
        assert mongo.org_claims.find_one({"_id": org_id}) is not None  # the id is held
    else:
        assert code == 2 and output.startswith("error: "), output
        assert org_id in output and after == before  # nothing issued, nothing left behind


def test_the_key_table_has_a_case_for_every_cell():
    assert all(set(expected) == set(ROLES) for _, expected in KEY_ROWS.values())


# --- the attacks of issue 12, end to end (through Kafka and the recorder) -----------------


def _session_body() -> dict[str, Any]:
    return {
        "name": "Kết nối cung cầu Sơn La",
        "host_province": HOME,
        "dates": {"start": "2026-12-01", "end": "2026-12-02"},
        "venue": "Trung tâm Hội nghị tỉnh",
        "invited_provinces": [HOME],
    }


def test_a_province_cannot_take_over_a_retailer_or_an_organizer(world, mongo):
    """Measured on main: a province key re-registered a retailer and an organizer of its
    province as cooperatives (202), then published offers as that retailer; one was proposed
    to another buyer, and the retailer could no longer be registered as a session buyer."""
    retailer_id = world.by_admin("supermarket-chain")
    organizer_id = world.by_admin("organizer")
    retailer = Actor("retailer", retailer_id, world.issue_key(retailer_id, "retailer"), world.http)
    organizer = Actor(
        "organizer", organizer_id, world.issue_key(organizer_id, "organizer"), world.http
    )
    province = world.actor("province")
    for target in (retailer_id, organizer_id):
        refused = _expect(province.register(target, "cooperative", name="HTX giả"), 409)
        assert refused.json()["type"] == "urn:ketnoi:problem:organization-claimed"
    offer = offer_body(supplier_id=retailer_id, origin_province=HOME)
    assert province.post("/v1/offers", offer).status_code == 403

    # Barrier: the retailer's own rename, produced after the refused writes, is recorded;
    # had a refused one been produced, its kind or name would show.
    _expect(retailer.register(retailer_id, "supermarket-chain", name="Siêu thị Sơn La"), 202)
    stored = eventually(
        lambda: mongo.organizations.find_one({"_id": retailer_id, "name": "Siêu thị Sơn La"}),
        what="the retailer's rename recorded",
    )
    assert stored["kind"] == "supermarket-chain"
    assert mongo.organizations.find_one({"_id": organizer_id})["kind"] == "organizer"
    assert province.post("/v1/offers", offer).status_code == 403

    session_id = _expect(organizer.post("/v1/sessions", _session_body()), 202).json()["id"]
    eventually(lambda: mongo.sessions.find_one({"_id": session_id}), what="the session recorded")
    joined = organizer.post(
        f"/v1/sessions/{session_id}/participants", {"org_id": retailer_id, "party": "buyer"}
    )
    assert joined.status_code == 202, joined.text


def test_a_province_cannot_claim_an_id_that_has_a_key(world):
    """Measured on main: a province claimed an id that had a key but no registration yet, and
    published in its name."""
    province = world.actor("province")
    for role in ("supplier", "retailer"):
        target = world.keyed(role)
        refused = _expect(province.register(target, "cooperative"), 409)
        assert "API key" in refused.json()["detail"]
        offer = offer_body(supplier_id=target, origin_province=HOME)
        assert province.post("/v1/offers", offer).status_code == 403
    # The holder of the supplier key registers itself, once; then the id is its own.
    holder_id = _unique("htx-self")
    holder = Actor("supplier", holder_id, world.issue_key(holder_id, "supplier"), world.http)
    _expect(holder.register(holder_id, "cooperative"), 202)
    _expect(province.register(holder_id, "cooperative"), 409)
    _expect(holder.register(holder_id, "household"), 403)  # a kind change is the admin's


def test_the_holder_of_a_recorded_organization_renames_it(world):
    """An organization recorded straight from Kafka has no claim: a key binds to it by its
    recorded kind, and the organization itself renames it (the claim is written then)."""
    response = recorded_only(world, "admin")  # the admin may change it too
    target = response.json()["id"]
    key = create_key(world.mongo, target, "supplier").key
    me = Actor("supplier", target, key, world.http)
    _expect(me.register(target, "cooperative", name="HTX tự đổi tên"), 202)
    claim = world.mongo.org_claims.find_one({"_id": target})
    assert claim["state"] == "registered" and claim["name"] == "HTX tự đổi tên"


# --- races: the claim is the only arbiter --------------------------------------------------


def test_concurrent_first_registrations_of_one_id_have_one_winner(world):
    offices = [world.actor("province") for _ in range(8)]
    for _ in range(3):
        target = _unique("htx-contested")
        with ThreadPoolExecutor(len(offices)) as pool:
            answers = list(
                pool.map(lambda o, t=target: o.register(t, "cooperative", name=o.org_id), offices)
            )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [202] + [409] * (len(offices) - 1), [a.text for a in answers]
        winner = next(o for o, a in zip(offices, answers, strict=True) if a.status_code == 202)
        claim = world.mongo.org_claims.find_one({"_id": target})
        assert claim["registered_by"] == winner.org_id and claim["name"] == winner.org_id


def test_a_key_issued_during_a_province_claim_never_both_win(world, infra):
    """``keys create`` (a retailer key, --unregistered) and a province registering the same new
    id as a cooperative, at once: exactly one of them holds the id afterwards."""
    province = world.actor("province")
    client: MongoClient = MongoClient(infra.mongo_url, tz_aware=True)
    try:
        db = client[infra.mongo_db]

        def issue(org_id: str) -> bool:
            try:
                create_key(db, org_id, "retailer", unregistered=True)
            except KeyRefused:
                return False
            return True

        for _ in range(12):
            target = _unique("contested")
            with ThreadPoolExecutor(2) as pool:
                keyed = pool.submit(issue, target)
                registered = pool.submit(province.register, target, "cooperative")
                key_won, answer = keyed.result(), registered.result()
            assert answer.status_code in (202, 409), answer.text
            assert key_won != (answer.status_code == 202), (key_won, answer.text)
            active = db.api_keys.count_documents({"org_id": target})
            assert active == (1 if key_won else 0)
    finally:
        client.close()
