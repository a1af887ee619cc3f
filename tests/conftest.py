"""Shared test fixtures. The whole suite runs with the network switched off."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from sigma_ext.content.corpus import Corpus, load_corpus
from sigma_ext.hunt.fast.engine import FastHunt
from sigma_ext.reference.engine import ReferenceEngine

ROOT = Path(__file__).resolve().parent.parent


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds and tests must never touch the network (pySigma's ATT&CK download included)."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise NetworkUsed(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load_corpus(ROOT, ROOT / "profiles" / "example.yml")


@pytest.fixture(scope="session")
def engine(corpus: Corpus) -> ReferenceEngine:
    return ReferenceEngine(corpus)


@pytest.fixture(scope="session")
def fast(engine: ReferenceEngine) -> FastHunt:
    """The fast hunt over the whole corpus (its SQL is made once; hunting keeps no state)."""
    return FastHunt(engine)
