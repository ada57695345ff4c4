import pytest

from tests.adversarial.kit import KEY, KEY_ENV


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return KEY
