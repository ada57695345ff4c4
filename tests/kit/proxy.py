"""A real LiteLLM proxy process (`litellm --config FILE --port P --host 127.0.0.1`) for the tests.

Why: a config tiertool writes is proven only when the real proxy loads it and routes requests with it. The proxy
runs in front of the tests' loopback provider (tests/loopback.py); its output goes to a file that is attached to
the report of any test that fails while it runs. Facts about starting it are in tests/kit/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from packaging.requirements import Requirement

from tests.kit import free_port

if TYPE_CHECKING:
    import openai

# Any key but LiteLLM's documented `sk-1234`, which 1.110 refuses as publicly known.
MASTER_KEY = "sk-tiertool-kit-master-key"
START_TIMEOUT_S = 240.0
BIND_ATTEMPTS = 3  # a port free a moment ago may be taken first by another process (a parallel worker's server)
SPEND_CALLBACK = "tests.kit.proxy_spend_rows.writer"
REPO = Path(__file__).resolve().parents[2]  # on the proxy's PYTHONPATH, so it can import SPEND_CALLBACK
# Variables of the caller's shell that would make the proxy use a database or load its config from a bucket.
DROPPED_ENV = ("DATABASE_URL", "DIRECT_URL", "LITELLM_CONFIG_BUCKET_NAME")


@dataclass
class LiteLLMProxy:
    base_url: str  # http://127.0.0.1:PORT; the OpenAI-compatible routes are under it and under /v1
    master_key: str
    config: Path
    log: Path
    process: subprocess.Popen[bytes]
    spend_file: Path  # where tests.kit.proxy_spend_rows.writer appends, when the config lists it

    def spend_record(self, request_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The spend callback's record of one request: {"spend_row": ..., "standard_logging_object": ...}.

        The callback runs after the response is sent, so this waits for it.
        """
        deadline = time.monotonic() + timeout
        while True:
            lines = self.spend_file.read_text(encoding="utf-8").splitlines() if self.spend_file.exists() else []
            for record in map(json.loads, lines):
                if record["spend_row"]["request_id"] == request_id:
                    return dict(record)
            if time.monotonic() > deadline:
                raise TimeoutError(f"no spend record of {request_id} after {timeout:.0f}s (is {SPEND_CALLBACK} in "
                                   f"litellm_settings.callbacks?):\n{self.output()}")
            time.sleep(0.1)

    def output(self, tail: int = 6000) -> str:
        """The proxy's stdout and stderr so far (the last `tail` characters), for failure messages."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-tail:]

    def client(self, **kwargs: Any) -> openai.OpenAI:
        """An OpenAI SDK client authenticated with the master key; no retries, so a failure shows as it is."""
        import openai

        return openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=self.master_key,
                             **{"max_retries": 0, "timeout": 60, **kwargs})


_live: list[LiteLLMProxy] = []  # running proxies, whose output a failing test's report shows


def missing_requirements() -> list[str]:
    """The proxy's requirements (tiertool's `proxy` extra) that are not installed."""
    missing = []
    for spec in distribution("tiertool").requires or []:
        req = Requirement(spec)
        if req.marker and req.marker.evaluate({"extra": "proxy"}) and not req.marker.evaluate({"extra": ""}):
            try:
                distribution(req.name)
            except PackageNotFoundError:
                missing.append(req.name)
    return missing


def skip_unless_installed() -> None:
    """Skip the calling test or fixture, naming what is missing, where the proxy's requirements are not installed."""
    missing = missing_requirements()
    if missing:
        pytest.skip(f"LiteLLM proxy requirements not installed: {', '.join(missing)} (pip install -e '.[test]')")


def _executable() -> str:
    beside = Path(sys.executable).with_name("litellm")
    found = str(beside) if beside.exists() else shutil.which("litellm")
    if not found:
        raise FileNotFoundError("no `litellm` executable beside this Python or on PATH")
    return found


def _wait_ready(proxy: LiteLLMProxy, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            raise RuntimeError(f"litellm proxy exited {proxy.process.returncode} before it was ready:\n"
                               f"{proxy.output()}")
        try:
            with urllib.request.urlopen(f"{proxy.base_url}/health/readiness", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise TimeoutError(f"litellm proxy not ready after {timeout:.0f}s:\n{proxy.output()}")


@contextmanager
def start_proxy(config: Path | Mapping[str, Any], env: Mapping[str, str | None] | None = None,
                timeout: float = START_TIMEOUT_S) -> Iterator[LiteLLMProxy]:
    """Start the proxy on a free loopback port with `config` (a file, or a dict written to a temp file), wait
    until /health/readiness answers, yield it, and stop it.

    Callback modules named in the config (`litellm_settings.callbacks: [module.instance]`) are loaded from
    `module.py` beside the config file, else imported: pass a file to keep them beside it. The proxy runs with
    MASTER_KEY, the bundled cost map, no database, no .env, its working directory in a temp dir; `env` adds to its
    environment (a None value removes a variable).
    """
    with tempfile.TemporaryDirectory(prefix="tiertool-proxy-") as tmp:
        work = Path(tmp)
        if isinstance(config, Mapping):
            path = work / "config.yaml"
            path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
        else:
            path = Path(config).resolve()
        log, spend_file = work / "proxy.log", work / "spend_rows.jsonl"
        # LITELLM_MODE=PRODUCTION: in its default DEV mode the proxy loads a .env found above its own install dir.
        settings = {"LITELLM_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                    "LITELLM_MODE": "PRODUCTION", "PYTHONUNBUFFERED": "1", "TIERTOOL_KIT_SPEND_ROWS": str(spend_file),
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                    **(env or {})}
        inherited = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        environ = {k: v for k, v in {**inherited, **settings}.items() if v is not None}
        proxy = None
        try:
            for tries in range(1, BIND_ATTEMPTS + 1):
                port = free_port()
                cmd = [_executable(), "--config", str(path), "--port", str(port), "--host", "127.0.0.1"]
                with log.open("wb") as sink:
                    process = subprocess.Popen(cmd, cwd=work, env=environ, stdout=sink, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL)
                proxy = LiteLLMProxy(f"http://127.0.0.1:{port}", MASTER_KEY, path, log, process, spend_file)
                _live.append(proxy)
                try:
                    _wait_ready(proxy, timeout)
                    break
                except RuntimeError as e:  # it exited: on a port another process took since free_port()?
                    _live.remove(proxy)
                    if tries == BIND_ATTEMPTS or "address already in use" not in str(e).lower():
                        raise
            yield proxy
        finally:
            if proxy is not None:
                _stop(proxy)


def _stop(proxy: LiteLLMProxy) -> None:
    if proxy in _live:
        _live.remove(proxy)
    proxy.process.terminate()
    try:
        proxy.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proxy.process.kill()
        proxy.process.wait()


@pytest.fixture
def litellm_proxy() -> Iterator[Callable[..., LiteLLMProxy]]:
    """`litellm_proxy(config, env=None)` starts a proxy (see `start_proxy`) that stops after the test.

    A start costs 15-30 s here, so a module that needs one config for many tests should call `start_proxy` in a
    module-scoped fixture instead.
    """
    skip_unless_installed()
    with ExitStack() as stack:
        yield lambda config, env=None: stack.enter_context(start_proxy(config, env))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the output of every proxy still running to the report of a test that failed."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for proxy in _live:
            report.sections.append((f"litellm proxy {proxy.base_url} output (last lines)", proxy.output()))
