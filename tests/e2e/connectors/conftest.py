"""The connectors' tests run on services of their own (``private_stack`` in tests/e2e/conftest.py):
they publish whole catalogues into real markets, which the session's matcher would match
against other tests' demands. These fixtures stand in for the session's here."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ketnoi.runner import ServiceGroup
from tests.e2e.conftest import PrivateStack


@pytest.fixture
def services(private_stack: PrivateStack) -> ServiceGroup:
    return private_stack.services


@pytest.fixture
def api(private_stack: PrivateStack) -> httpx.Client:
    return private_stack.api


@pytest.fixture
def issue_key(private_stack: PrivateStack) -> Callable[..., str]:
    return private_stack.issue_key
