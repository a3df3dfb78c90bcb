"""The same three requests as stack_push.py with the standard library only (argparse, json,
http.client): an anchor for benchmarks/fast_start.py showing what start-up costs without
pcc-env's dependencies. Not a client anyone should use: no retries, no validation.

    stdlib_push.py ENV_FILE --set NAME     (PIPECAT_API_HOST, PIPECAT_API_KEY: an emulator)
"""

import argparse
import http.client
import json
import os
import urllib.parse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("env_file")
    parser.add_argument("--set", dest="set_name", required=True)
    args = parser.parse_args()
    values = {}
    with open(args.env_file, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key] = value
    host = urllib.parse.urlsplit(os.environ["PIPECAT_API_HOST"])
    conn = http.client.HTTPConnection(host.hostname, host.port)
    headers = {
        "Authorization": "Bearer " + os.environ["PIPECAT_API_KEY"],
        "Content-Type": "application/json",
    }
    url = f"/v1/secrets/{args.set_name}"

    def call(method: str, body: object = None) -> dict:
        data = json.dumps(body) if body is not None else None
        conn.request(method, url, body=data, headers=headers)
        resp = conn.getresponse()
        return json.loads(resp.read() or b"{}")

    call("GET")
    call("PUT", {"secrets": [{"secretKey": k, "secretValue": v} for k, v in values.items()]})
    status = call("GET")["status"]
    print(f"pushed {len(values)} keys; {status}")


if __name__ == "__main__":
    main()
