"""An MCP server on stdio, standard library only, that answers every request with a canned
result: `argv[1]` is a JSON file mapping a method to the `result` to answer it with (`{}` for a
method it does not list). The attack-surface tests use it to put content anywhere in a
response."""

import json
import sys

with open(sys.argv[1]) as f:
    CANNED = json.load(f)

for line in sys.stdin:
    message = json.loads(line)
    if "id" in message and "method" in message:
        answer = {"jsonrpc": "2.0", "id": message["id"], "result": CANNED.get(message["method"], {})}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
