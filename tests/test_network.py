"""Real networks, on 127.0.0.1: one warm connection, HTTPS with a private CA, proxies."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
import trustme

from t360cli.mockserver import MockServer
from tests.helpers import (
    KEY,
    chat_env,
    invoke,
    paths,
    refused_port,
    run_process,
    spawn_t360,
)
from tests.proxies import ConnectProxy, Socks5Proxy

PROMPT = "\u203a"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def https_server(ca: trustme.CA) -> Iterator[MockServer]:
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    with MockServer(tls=context, name="localhost") as server:
        yield server


# -- one connection per process ----------------------------------------------------------


def test_a_one_shot_uses_one_connection_and_one_request(server: MockServer) -> None:
    result = run_process("chat", "-m", "echo", "hello", env=chat_env(server))
    assert result.out == "hello\n"
    assert server.connections == 1 and len(server.calls) == 1  # the early connect, reused


def test_repl_turns_share_one_connection(server: MockServer) -> None:
    child = spawn_t360(
        "chat", "-m", "recall", env=chat_env(server, PROMPT_TOOLKIT_NO_CPR="1"), encoding="utf-8"
    )
    child.expect(PROMPT)
    for word in ("one", "two", "three"):
        child.sendline(word)
        child.expect_exact(
            f"you said: {'one | two | three'[: 'one | two | three'.index(word) + len(word)]}"
        )
        child.expect(PROMPT)
    child.sendline("/retry")
    child.expect_exact("you said: one | two | three")
    child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert len(server.calls) == 4
    assert server.connections == 1


def test_bench_requests_share_the_pool(server: MockServer) -> None:
    result = invoke(
        "bench", "-m", "echo", "-m", "lorem:5", "-n", "3", "--json", env=chat_env(server)
    )
    assert result.code == 0, result.err
    assert len(server.calls) == 6 and server.connections == 1
    concurrent = invoke(
        "bench", "-m", "slow-first:300", "-n", "4", "--concurrency", "2", env=chat_env(server)
    )
    assert concurrent.code == 0
    assert server.connections == 1 + 2  # a pool of two for --concurrency 2


def test_when_the_early_connect_fails_the_request_says_so_as_always() -> None:
    with refused_port() as port:
        url = f"https://127.0.0.1:{port}/v1"
        result = run_process(
            "chat", "--retries", "0", "hi", env={"T360_API_KEY": KEY, "T360_BASE_URL": url}
        )
    assert result.code == 5
    assert result.err.strip().splitlines()[-1] == (
        "t360: error: cannot connect to 127.0.0.1: Connection refused; "
        "check your network, or --base-url"
    )


# -- TLS and private CAs ------------------------------------------------------------------


def test_a_private_ca_is_refused_with_a_hint_to_ca_bundle(https_server: MockServer) -> None:
    result = run_process("chat", "-m", "echo", "hi", env=chat_env(https_server))
    assert result.code == 5
    line = result.err.strip().splitlines()[-1]
    assert "TLS certificate of localhost is not trusted" in line
    assert "unable to get local issuer certificate" in line
    assert "t360 config set ca_bundle /path/to/ca.pem" in line
    assert "retry" not in result.err  # retrying cannot help
    assert https_server.calls == []


@pytest.mark.parametrize("how", ["T360_CA_BUNDLE", "config", "SSL_CERT_FILE"])
def test_a_private_ca_is_trusted_when_configured(
    https_server: MockServer, ca_file: str, how: str
) -> None:
    env = chat_env(https_server)
    if how == "config":
        assert run_process("config", "set", "ca_bundle", ca_file).code == 0
    else:
        env[how] = ca_file
    result = run_process("chat", "-m", "echo", "over tls", env=env)
    assert (result.code, result.out) == (0, "over tls\n"), result.err
    assert len(https_server.calls) == 1
    # The early handshake starts before the config file is read, trusting what the
    # environment names; a bundle named only in the file costs it one more handshake.
    assert https_server.connections == (2 if how == "config" else 1)


def test_debug_traces_the_start_up_phases_of_the_early_connection(
    https_server: MockServer, ca_file: str
) -> None:
    """As a user runs it (--base-url, the CA through SSL_CERT_FILE): the handshake is
    made while t360 loads, before the request goes out on that same connection."""
    env = {**chat_env(https_server), "SSL_CERT_FILE": ca_file}
    del env["T360_BASE_URL"]
    result = run_process(
        "chat", "--debug", "--base-url", https_server.url, "-m", "echo", "hi", env=env
    )
    assert (result.code, result.out) == (0, "hi\n"), result.err
    [line] = [line for line in result.err.splitlines() if "phases since t360's entry:" in line]
    phases = {
        what: float(ms)
        for what, ms in re.findall(r"([a-zA-Z][a-zA-Z ]*?) (\d+) ms", line.partition("entry:")[2])
    }
    for phase in ("connecting", "handshake done", "flags read", "request sent", "first text"):
        assert phase in phases, line
    assert phases["connecting"] < phases["handshake done"] < phases["request sent"]
    assert phases["request sent"] <= phases["answer headers"] <= phases["first text"]
    assert https_server.connections == 1  # the early one, used


def test_a_one_shot_builds_its_tls_context_once(https_server: MockServer, ca_file: str) -> None:
    """The early connection's context (30 ms or more to build) is the one the client
    uses: one build per run, however the URL and the CA are given."""
    env = {**os.environ, **chat_env(https_server), "SSL_CERT_FILE": ca_file}
    del env["T360_BASE_URL"]
    script = (
        "import atexit, sys\n"
        "import t360cli.network as network\n"
        "built = []\n"
        "build = network.tls_context\n"
        "network.tls_context = lambda bundle: built.append(bundle) or build(bundle)\n"
        "atexit.register(lambda: print('built', len(built), file=sys.stderr))\n"
        f"sys.argv = ['t360', 'chat', '--base-url', {https_server.url!r}, '-m', 'echo', 'hi']\n"
        "from t360cli.__main__ import main\n"
        "main()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout) == (0, "hi\n"), proc.stderr
    assert proc.stderr.splitlines()[-1] == "built 1"
    assert https_server.connections == 1


def test_a_missing_ca_bundle_is_a_config_error(https_server: MockServer, tmp_path: Path) -> None:
    env = chat_env(https_server, T360_CA_BUNDLE=str(tmp_path / "nope.pem"))
    result = run_process("chat", "-m", "echo", "hi", env=env)
    assert result.code == 3 and "cannot read ca_bundle" in result.err and "nope.pem" in result.err


def test_repl_turns_over_tls_share_one_connection(https_server: MockServer, ca_file: str) -> None:
    env = chat_env(https_server, T360_CA_BUNDLE=ca_file, PROMPT_TOOLKIT_NO_CPR="1")
    child = spawn_t360("chat", "-m", "echo", env=env, encoding="utf-8")
    child.expect(PROMPT)
    for word in ("alpha", "beta", "gamma"):
        child.sendline(word)
        child.expect_exact(word)
        child.expect(PROMPT)
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert len(https_server.calls) == 3 and https_server.connections == 1


# -- proxies ------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["T360_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
def test_an_http_connect_proxy_carries_https(
    https_server: MockServer, ca_file: str, variable: str
) -> None:
    with ConnectProxy() as proxy:
        env = chat_env(https_server, T360_CA_BUNDLE=ca_file, **{variable: proxy.url})
        result = run_process("chat", "-m", "echo", "via proxy", env=env)
    assert (result.code, result.out) == (0, "via proxy\n"), result.err
    assert proxy.targets == [("localhost", int(https_server.url.split(":")[2].split("/")[0]))]


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_a_socks5_proxy_works_out_of_the_box(server: MockServer, scheme: str) -> None:
    with Socks5Proxy() as proxy:
        env = chat_env(server, ALL_PROXY=proxy.url.replace("socks5", scheme))
        result = run_process("chat", "-m", "echo", "via socks", env=env)
    assert (result.code, result.out) == (0, "via socks\n"), result.err
    assert len(proxy.targets) == 1


def test_no_proxy_exempts_the_gateway(server: MockServer) -> None:
    with ConnectProxy() as proxy:
        env = chat_env(server, HTTP_PROXY=proxy.url, NO_PROXY="localhost,127.0.0.1")
        result = run_process("chat", "-m", "echo", "direct", env=env)
    assert result.out == "direct\n" and proxy.targets == []


def test_a_dead_proxy_is_exit_5_naming_it_without_its_password(server: MockServer) -> None:
    with refused_port() as port:
        proxy = f"http://alice:s3cret@127.0.0.1:{port}"
        result = run_process(
            "chat", "-m", "echo", "--retries", "0", "hi", env=chat_env(server, T360_PROXY=proxy)
        )
    assert result.code == 5
    line = result.err.strip().splitlines()[-1]
    assert (
        f"cannot connect to the proxy http://alice:***@127.0.0.1:{proxy.rsplit(':', 1)[1]}" in line
    )
    assert "s3cret" not in result.err
    assert server.calls == []


def test_a_proxy_that_refuses_the_tunnel_is_exit_5(https_server: MockServer, ca_file: str) -> None:
    with ConnectProxy() as proxy:
        proxy.handle = lambda client: (  # type: ignore[method-assign]
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
            client.close(),
        )
        env = chat_env(https_server, T360_CA_BUNDLE=ca_file, T360_PROXY=proxy.url)
        result = run_process("chat", "-m", "echo", "--retries", "0", "hi", env=env)
    assert result.code == 5 and f"the proxy {proxy.url} refused" in result.err


# -- what config show and --debug say -----------------------------------------------------


def test_config_show_and_debug_name_the_ca_source_and_the_proxy(server: MockServer) -> None:
    env = {
        **chat_env(server),
        "T360_CA_BUNDLE": "/etc/corp-ca.pem",
        "T360_PROXY": "http://bob:pw@proxy.corp:3128",
        "SSL_CERT_FILE": "",
    }
    shown = invoke("config", "show", env=env)
    assert re.search(r"^ca_bundle +/etc/corp-ca.pem +\(env\)$", shown.out, re.M)
    assert (
        "proxy" in shown.out and "bob:***@proxy.corp:3128" in shown.out and ":pw@" not in shown.out
    )
    assert "# tls trust: the system trust store + ca_bundle /etc/corp-ca.pem" in shown.out
    as_json = json.loads(invoke("config", "show", "--json", env=env).out)
    assert as_json["proxy"]["value"] == "http://bob:***@proxy.corp:3128"
    debug = invoke("chat", "--debug", "-m", "echo", "--retries", "0", "hi", env=env)
    assert "tls: no TLS; proxy: http://bob:***@proxy.corp:3128 (from proxy setting)" in debug.err
    assert ":pw@" not in debug.err


def test_bad_proxy_values_are_refused() -> None:
    result = invoke("chat", "hi", env={"T360_API_KEY": KEY, "T360_PROXY": "ftp://x:1"})
    assert result.code == 3 and "T360_PROXY" in result.err
    assert invoke("config", "set", "proxy", "gopher://x").code == 2
    assert not paths().config_file.exists()


def test_a_fresh_connection_is_opened_ahead_when_the_server_dropped_the_idle_one() -> None:
    """What the REPL does when the user starts typing after a pause: ``warm_up`` opens a
    connection in the background, and the next turn uses it instead of a handshake."""
    from t360cli.client import Gateway
    from t360cli.config import Settings
    from t360cli.events import TextDelta

    def ask(gateway: Gateway) -> str:
        payload = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        return "".join(e.text for e in gateway.chat(payload) if isinstance(e, TextDelta))

    with MockServer(idle_timeout=0.2) as server:
        with Gateway(Settings(api_key=KEY, base_url=server.url)) as gateway:
            assert ask(gateway) == "hi"
            assert server.connections == 1
            # the server drops the idle connection; then the user starts typing
            assert server.wait_for(lambda: server.closed >= 1, timeout=10)
            # read per connection (setup): the warm one waits as long as the test takes
            server.idle_timeout = None
            gateway.warm_up()
            assert server.wait_for(lambda: server.connections == 2, timeout=10)
            assert ask(gateway) == "hi"
        assert server.connections == 2 and len(server.calls) == 2
