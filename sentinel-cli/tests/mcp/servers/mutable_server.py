"""An MCP server on stdio, standard library only, whose answers a test changes while it runs:
`argv[1]` is a JSON file mapping a method to the `result` to answer it with, read again at every
request (so a test rewrites it between two `tools/list` to change a tool in the middle of a
session). A `tools/call` the file does not answer gets `called <name>` as text. `argv[2]`, when
given, is a file every line received is appended to."""

import json
import sys

RESULTS = sys.argv[1]
RECORD = open(sys.argv[2], "ab") if len(sys.argv) > 2 else None

for line in sys.stdin.buffer:
    if RECORD:
        RECORD.write(line)
        RECORD.flush()
    message = json.loads(line)
    if not isinstance(message, dict) or "id" not in message or "method" not in message:
        continue
    with open(RESULTS) as f:
        results = json.load(f)
    method = message["method"]
    if method in results:
        result = results[method]
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": f"called {message['params']['name']}"}], "isError": False}
    else:
        result = {}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n")
    sys.stdout.flush()
