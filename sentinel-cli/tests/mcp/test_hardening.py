"""The proxy under protocol edge cases a peer can cause on purpose or by accident: JSON-RPC
batches answered in batches (each id resolved once, blocked elements answered once, nobody left
waiting) and messages larger than `--max-message-bytes` (never forwarded, never held whole, the
waiting side told with the right id, the session going on)."""

import json
import sys
import time

import pytest

from harness import BENIGN, INJECTION, SERVERS, call, clean_env, dumps, read_ndjson, read_record, rot13, wait_for

pytestmark = pytest.mark.timeout(120)

OVERSIZE_SERVER = SERVERS / "oversize_server.py"
TOO_LARGE = -32053
BLOCKED = -32051
SERVER_GONE = -32052


def text_of(response):
    return response["result"]["content"][0]["text"]


def result(request_id, text):
    return {"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text", "text": text}], "isError": False}}


def rest_of_output(p, timeout=15):
    """Closes the proxy's stdin and returns every message it writes until it exits (the
    SERVER_GONE errors for the requests still pending come then)."""
    p.close_stdin()
    out = []
    while (line := p.recv_raw(timeout)) is not None:
        out.append(json.loads(line))
    p.wait(timeout)
    return out


def ids_and_codes(messages):
    return [(m["id"], m["error"]["code"]) for m in messages]


def oversize_server(*args):
    return [sys.executable, str(OVERSIZE_SERVER), *map(str, args)]


# --- Batches ----------------------------------------------------------------------------------


def test_a_batch_response_resolves_every_id_it_answers(proxy, server):
    p = proxy(server)
    for request_id in (1, 2, 4):
        p.send(call(request_id, "hang"))
    batch = dumps([result(1, "one"), result(2, "two")])
    p.send(call(3, "emit", lines=[batch]))
    assert p.recv_raw() == batch.encode() + b"\n", "an allowed batch is relayed byte for byte"
    assert text_of(p.recv()) == "emitted"
    # When the server exits, only the request it never answered (4) gets -32052.
    assert ids_and_codes(rest_of_output(p)) == [(4, SERVER_GONE)]


def test_a_batch_response_with_a_blocked_element(proxy, server, tmp_path):
    audit = tmp_path / "audit.ndjson"
    p = proxy(server, ["--audit", audit])
    for request_id in (1, 2, 4):
        p.send(call(request_id, "hang"))
    batch = [result(1, BENIGN), result(2, INJECTION), result(99, BENIGN)]  # nobody waits for 99
    p.send(call(3, "emit", lines=[rot13(dumps(batch))], rot13=True))
    answer = p.recv()
    assert isinstance(answer, list), answer
    assert ids_and_codes(answer) == [(1, BLOCKED), (2, BLOCKED)], "each pending id once, in one batch"
    # The blocked element was scanned knowing its own request's method and tool.
    verdict = answer[1]["error"]["data"]["sentinel"]
    assert verdict["message"] == {"direction": "response", "method": "tools/call", "id": 2, "tool": "hang"}
    assert "PI-001" in {f["rule"] for f in verdict["findings"]}
    assert "another message of its batch (id 2) is blocked" in answer[0]["error"]["message"]
    assert text_of(p.recv()) == "emitted"
    assert ids_and_codes(rest_of_output(p)) == [(4, SERVER_GONE)], "no -32052 for the ids the batch answered"
    records = [r for r in read_ndjson(audit) if "batch" in r]
    assert [(r["id"], r["decision"], r["batch"]) for r in records] == [
        (1, "allow", {"index": 0, "size": 3, "decision": "block"}),
        (2, "block", {"index": 1, "size": 3, "decision": "block"}),
        (99, "allow", {"index": 2, "size": 3, "decision": "block"}),
    ]
    assert [r["method"] for r in records] == ["tools/call", "tools/call", None]


def test_a_blocked_batch_response_in_tool_error_style(proxy, server):
    p = proxy(server, ["--block-style", "tool-error"])
    for request_id in (1, 2):
        p.send(call(request_id, "hang"))
    p.send(call(3, "emit", lines=[rot13(dumps([result(1, INJECTION), result(2, BENIGN)]))], rot13=True))
    answer = p.recv()
    assert [a["id"] for a in answer] == [1, 2]
    assert all(a["result"]["isError"] is True and "error" not in a for a in answer), answer
    assert text_of(answer[0]).startswith("Blocked by Sentinel: ")
    assert text_of(p.recv()) == "emitted"
    assert rest_of_output(p) == []


def test_a_mixed_batch_from_the_server_answers_both_sides_once(proxy, server, record):
    p = proxy(server)
    p.send(call(1, "hang"))
    sampling = {
        "jsonrpc": "2.0",
        "id": "s-1",
        "method": "sampling/createMessage",
        "params": {"messages": [{"role": "user", "content": {"type": "text", "text": INJECTION}}], "maxTokens": 5},
    }
    p.send(call(2, "emit", lines=[rot13(dumps([result(1, BENIGN), sampling]))], rot13=True))
    # The host gets the error for its request 1, which the batch answered; never the sampling request.
    answer = p.recv()
    assert ids_and_codes(answer) == [(1, BLOCKED)]
    assert text_of(p.recv()) == "emitted"
    # The server gets the error for its own request, in a batch.
    assert wait_for(lambda: len(read_record(record)) == 3, 5), read_record(record)
    to_server = json.loads(read_record(record)[-1])
    assert ids_and_codes(to_server) == [("s-1", BLOCKED)]
    verdict = to_server[0]["error"]["data"]["sentinel"]
    assert verdict["message"]["direction"] == "request" and verdict["message"]["method"] == "sampling/createMessage"
    assert rest_of_output(p) == []


def test_a_blocked_batch_of_requests_answers_each_id_once(proxy, server, record):
    p = proxy(server)
    note = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}}
    batch = [call(1, "echo", text=BENIGN), call(2, "echo", text=INJECTION), note, call(1, "echo", text="again"),
             call("x", "echo", text=BENIGN), {"jsonrpc": "2.0", "id": 3, "method": "ping"}]
    p.send(batch)
    answer = p.recv()
    assert ids_and_codes(answer) == [(1, BLOCKED), (2, BLOCKED), ("x", BLOCKED), (3, BLOCKED)]
    p.no_more_output()
    assert p.request({"jsonrpc": "2.0", "id": 4, "method": "ping"})["id"] == 4
    assert [json.loads(line)["id"] for line in read_record(record)] == [4], "nothing of the batch reached the server"
    assert rest_of_output(p) == [], "nothing is pending"


def test_a_blocked_batch_of_host_responses_answers_the_server(proxy, server, record):
    p = proxy(server)
    p.send(call(1, "ask", method="roots/list"))
    p.send(call(2, "ask", method="roots/list"))
    assert {p.recv()["id"], p.recv()["id"]} == {"srv-1", "srv-2"}
    reply = [
        {"jsonrpc": "2.0", "id": "srv-1", "result": {"roots": [{"uri": "file:///home/user/project", "name": "project"}]}},
        {"jsonrpc": "2.0", "id": "srv-2", "result": {"roots": [{"uri": "file:///tmp", "name": INJECTION}]}},
        {"jsonrpc": "2.0", "id": "srv-1", "result": {"roots": []}},  # answered already: nobody waits
    ]
    p.send(reply)
    p.no_more_output()
    assert wait_for(lambda: len(read_record(record)) == 3, 5), read_record(record)
    to_server = json.loads(read_record(record)[-1])
    assert ids_and_codes(to_server) == [("srv-1", BLOCKED), ("srv-2", BLOCKED)]
    # The fake server does not read batches, so the two calls stay unanswered: only they get -32052.
    assert sorted(ids_and_codes(rest_of_output(p))) == [(1, SERVER_GONE), (2, SERVER_GONE)]


# --- Over-size messages from the host ------------------------------------------------------------


@pytest.mark.parametrize("fail_mode", ["fail_closed", "fail_open"])
def test_an_oversize_request_from_the_host_is_answered_with_its_id(proxy, server, record, tmp_path, fail_mode):
    audit = tmp_path / "audit.ndjson"
    p = proxy(server, ["--max-message-bytes", "65536", "--audit", audit, "--fail-mode", fail_mode])
    big = "x" * 1_000_000
    id_last = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "echo", "arguments": {"text": big}}, "id": "late"}
    sizes = []
    for request_id, message in [(5, call(5, "echo", text=big)), ("late", id_last)]:
        line = dumps(message).encode()
        sizes.append(len(line))
        p.send_raw(line + b"\n")
        answer = p.recv()
        assert answer["id"] == request_id and answer["error"]["code"] == TOO_LARGE, answer
        text = answer["error"]["message"]
        assert f"tools/call request of {len(line)} bytes" in text and "maximum of 65536 bytes" in text, text
        assert "--max-message-bytes" in text
        assert text_of(p.request(call(6, "echo", text=BENIGN))) == BENIGN, "the next request is relayed"
    # A notification gets no answer; a line with neither id nor method gets one with id null.
    p.send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": big}})
    p.send({"jsonrpc": "2.0", "params": {"data": big}})
    answer = p.recv()
    assert answer["id"] is None and answer["error"]["code"] == TOO_LARGE, answer
    assert text_of(p.request(call(7, "echo", text=BENIGN))) == BENIGN
    assert [json.loads(line)["id"] for line in read_record(record)] == [6, 6, 7], "no over-size line was forwarded"
    oversize = [r for r in read_ndjson(audit) if r.get("event") == "oversize"]
    assert [(r["id"], r["source"], r["decision"], r["bytes"]) for r in oversize[:2]] == [
        (5, "host", "block", sizes[0]),
        ("late", "host", "block", sizes[1]),
    ]
    assert len(oversize) == 4
    assert [e["source"] for e in p.logs() if e.get("event") == "oversize"] == ["host"] * 4


def test_max_message_bytes_from_the_environment(proxy, server):
    p = proxy(server, env=clean_env(SENTINEL_MCP_MAX_MESSAGE_BYTES=65536))
    answer = p.request(call(1, "echo", text="y" * 70_000))
    assert answer["id"] == 1 and answer["error"]["code"] == TOO_LARGE
    assert "maximum of 65536 bytes" in answer["error"]["message"]
    # Below the limit, as before.
    assert text_of(p.request(call(2, "echo", text="y" * 60_000))) == "y" * 60_000


def test_a_bad_max_message_bytes_is_a_usage_error(proxy, server):
    p = proxy(server, env=clean_env(SENTINEL_MCP_MAX_MESSAGE_BYTES="lots"))
    assert p.wait(10) != 0
    assert "SENTINEL_MCP_MAX_MESSAGE_BYTES" in p.stderr()


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmHWM"].split()[0]), int(fields["VmRSS"].split()[0])


@pytest.mark.parametrize("limit, line_mb", [(None, 200), (1 << 20, 80)])
def test_an_oversize_line_is_never_held_whole(proxy, server, record, limit, line_mb):
    """A line far larger than the limit, streamed in pieces: the proxy's memory grows by the
    limit at most (plus buffers), not by the line."""
    args = [] if limit is None else ["--max-message-bytes", str(limit)]
    p = proxy(server, args)
    assert p.request({"jsonrpc": "2.0", "id": 1, "method": "ping"})["id"] == 1  # engine built, steady
    _, rss_before = peak_rss_kib(p.proc.pid)
    size = line_mb * 1000 * 1000
    head = b'{"jsonrpc":"2.0","id":"huge","method":"tools/call","params":{"name":"echo","arguments":{"text":"'
    tail = b'"}}}\n'
    piece = b"z" * (1 << 20)
    started = time.monotonic()
    p.send_raw(head)
    left = size - len(head) - len(tail) + 1
    while left > 0:
        p.send_raw(piece[:left])
        left -= len(piece)
    p.send_raw(tail)
    answer = p.recv(timeout=120)
    elapsed = time.monotonic() - started
    assert answer["id"] == "huge" and answer["error"]["code"] == TOO_LARGE, answer
    assert f"of {size} bytes" in answer["error"]["message"]
    peak, _ = peak_rss_kib(p.proc.pid)
    growth_mb = (peak - rss_before) * 1024 / 1e6
    limit_mb = (limit or 64 * 1024 * 1024) / 1e6
    print(f"line {line_mb} MB, limit {limit_mb:.1f} MB: VmRSS before {rss_before} kB, VmHWM after {peak} kB, "
          f"growth {growth_mb:.1f} MB, {elapsed:.1f} s")
    assert growth_mb < limit_mb + 40, f"the proxy grew by {growth_mb:.1f} MB for a {line_mb} MB line"
    assert growth_mb < line_mb / 2
    assert text_of(p.request(call(2, "echo", text=BENIGN))) == BENIGN
    assert [json.loads(line)["id"] for line in read_record(record)] == [1, 2]


# --- Over-size messages from the server ----------------------------------------------------------


@pytest.mark.parametrize("id_last", [False, True])
def test_an_oversize_response_from_the_server(proxy, record, id_last):
    p = proxy(oversize_server("--record", record), ["--max-message-bytes", "65536"])
    p.send(call(1, "hang"))  # the control: never answered
    p.send(call(2, "big", size=1_000_000, id_last=id_last))
    answer = p.recv()
    assert answer["id"] == 2 and answer["error"]["code"] == TOO_LARGE, answer
    text = answer["error"]["message"]
    assert text.startswith("Response too large: the MCP server's response to tools/call (") and "65536" in text, text
    assert text_of(p.request(call(3, "echo", text=BENIGN))) == BENIGN, "the proxy relays the next message"
    assert ids_and_codes(rest_of_output(p)) == [(1, SERVER_GONE)], "the over-size answer's id is no longer pending"
    logs = [e for e in p.logs() if e.get("event") == "oversize"]
    assert [(e["source"], e["decision"]) for e in logs] == [("server", "block")]


def test_an_oversize_response_in_tool_error_style(proxy, record):
    p = proxy(oversize_server("--record", record), ["--max-message-bytes", "65536", "--block-style", "tool-error"])
    answer = p.request(call(1, "big", size=100_000))
    assert answer["id"] == 1 and answer["result"]["isError"] is True
    assert text_of(answer).startswith("Response too large: ")


def test_an_oversize_request_from_the_server_is_answered_to_the_server(proxy, record):
    p = proxy(oversize_server("--record", record), ["--max-message-bytes", "65536"])
    p.send(call(1, "ask_big", size=200_000))
    # The host never sees the sampling request; the server gets the error and answers the call with it.
    answer = p.recv()
    assert answer["id"] == 1, answer
    error = json.loads(text_of(answer))
    assert error["id"] == "srv-big" and error["error"]["code"] == TOO_LARGE
    assert "sampling/createMessage request of" in error["error"]["message"]
    # A notification too large is dropped (logged); the call is still answered.
    assert text_of(p.request(call(2, "notify_big", size=200_000))) == "notified"
    assert text_of(p.request(call(3, "echo", text=BENIGN))) == BENIGN
    assert [e["source"] for e in p.logs() if e.get("event") == "oversize"] == ["server", "server"]
    assert rest_of_output(p) == []


# --- Duplicate keys ---------------------------------------------------------------------------


def test_a_duplicate_key_hiding_an_attack_is_blocked(proxy, server, record):
    # The proxy's parser keeps the last `text`; a server keeping the first would run the attack.
    p = proxy(server)
    line = (
        '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": '
        '{"text": ' + json.dumps(INJECTION) + ', "text": "hello"}}}'
    )
    p.send_raw(line.encode() + b"\n")
    response = p.recv()
    assert response["id"] == 1 and response["error"]["code"] == BLOCKED, response
    rules = {f["rule"] for f in response["error"]["data"]["sentinel"]["findings"]}
    assert "SYS-003" in rules and "PI-001" in rules, rules
    # In a batch, the element with the duplicate is the one blocked.
    batch = (
        '[{"jsonrpc": "2.0", "id": 2, "method": "ping"}, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", '
        '"params": {"name": "echo", "arguments": {"text": "hi", "text": "hello"}}}]'
    )
    p.send_raw(batch.encode() + b"\n")
    replies = p.recv()
    assert sorted(r["id"] for r in replies) == [2, 3], replies
    assert all(r["error"]["code"] == BLOCKED for r in replies), replies
