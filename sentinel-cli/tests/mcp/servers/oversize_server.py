"""An MCP server on stdio, standard library only, that writes messages larger than the proxy's
`--max-message-bytes` on request, for the over-size tests (test_hardening.py).

It answers `initialize`, `ping` and `tools/call`; the tool name says what it does:

| tool | what the server does |
|---|---|
| `echo` | answers with `arguments.text` as text content |
| `hang` | never answers |
| `big` | answers with a result of `arguments.size` bytes of text, written in pieces of 1 MiB (its `id` last when `id_last` is true) |
| `ask_big` | sends the client a `sampling/createMessage` request (id `srv-big`) whose text is `arguments.size` bytes, waits for the answer and answers the call with it as JSON text |
| `notify_big` | sends a `notifications/message` of `arguments.size` bytes, then answers `notified` |

`--record FILE` appends every line received, byte for byte.
"""

import argparse
import json
import sys

OUT = sys.stdout.buffer
FILLER = b"The quarterly report lists revenue by region and the meeting notes of each team. "


def send(message):
    OUT.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
    OUT.flush()


def text_result(request_id, text):
    send({"jsonrpc": "2.0", "id": request_id, "result": {"content": [{"type": "text", "text": text}], "isError": False}})


def write_huge(head, size, tail):
    """Writes `head`, `size` bytes of filler and `tail` as one line, in pieces."""
    OUT.write(head)
    left = size
    piece = FILLER * (1024 * 1024 // len(FILLER))
    while left > 0:
        chunk = piece[:left]
        OUT.write(chunk)
        left -= len(chunk)
    OUT.write(tail + b"\n")
    OUT.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--record")
    options = parser.parse_args()
    record = open(options.record, "ab") if options.record else None
    waiting = {}  # id of our request to the client -> id of the tools/call waiting on it
    for line in sys.stdin.buffer:
        if record:
            record.write(line)
            record.flush()
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if "method" not in message:
            call_id = waiting.pop(message.get("id"), None)
            if call_id is not None:
                text_result(call_id, json.dumps(message, separators=(",", ":")))
            continue
        if "id" not in message:
            continue
        request_id, method = message["id"], message["method"]
        params = message.get("params") or {}
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": request_id, "result": {
                "protocolVersion": params.get("protocolVersion", "2025-06-18"), "capabilities": {"tools": {}},
                "serverInfo": {"name": "oversize-server", "version": "1.0"}}})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": request_id, "result": {}})
        elif method == "tools/call":
            name, arguments = params.get("name"), params.get("arguments") or {}
            size = int(arguments.get("size", 0))
            if name == "echo":
                text_result(request_id, arguments.get("text", ""))
            elif name == "hang":
                pass
            elif name == "big":
                rid = json.dumps(request_id).encode()
                if arguments.get("id_last"):
                    head = b'{"jsonrpc":"2.0","result":{"content":[{"type":"text","text":"'
                    write_huge(head, size, b'"}],"isError":false},"id":' + rid + b"}")
                else:
                    head = b'{"jsonrpc":"2.0","id":' + rid + b',"result":{"content":[{"type":"text","text":"'
                    write_huge(head, size, b'"}],"isError":false}}')
            elif name == "ask_big":
                waiting["srv-big"] = request_id
                head = b'{"jsonrpc":"2.0","id":"srv-big","method":"sampling/createMessage","params":{"maxTokens":1,"messages":[{"role":"user","content":{"type":"text","text":"'
                write_huge(head, size, b'"}}]}}')
            elif name == "notify_big":
                write_huge(b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"', size, b'"}}')
                text_result(request_id, "notified")
            else:
                send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": f"unknown tool {name}"}})
        else:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": "Method not found"}})


if __name__ == "__main__":
    main()
