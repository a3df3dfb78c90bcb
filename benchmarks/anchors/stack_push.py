"""The least a push can do with pcc-env's dependencies: an anchor for benchmarks/fast_start.py.

Typer parses the two arguments, python-dotenv reads the file, httpx sends the four requests of
a push (read the set, delete the previous revision record's marker, PUT with the new one, read
its status) under a stamina retry, and a pydantic model validates the responses. No plan display, no guards, no state, no agents: what is left is the
start-up cost of the stack itself, which no push built on it can go under.

    stack_push.py ENV_FILE --set NAME     (PIPECAT_API_HOST, PIPECAT_API_KEY: an emulator)
"""

import hashlib
import os
import sys

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def push(env_file: str, set_name: str = typer.Option(..., "--set")) -> None:
    # pcc-env's two start-up savings, so that the anchor is the least the stack can do: httpx's
    # own command-line client never imported, no scan for pydantic plugins.
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    import httpx
    import stamina
    from dotenv import dotenv_values
    from pydantic import BaseModel

    class Key(BaseModel):
        fieldName: str

    class SecretSet(BaseModel):
        region: str
        status: str
        secrets: list[Key] = []

    values = dotenv_values(env_file)
    headers = {"Authorization": "Bearer " + os.environ["PIPECAT_API_KEY"]}
    url = f"/v1/secrets/{set_name}"
    # verify=False: the emulator is plain http; loading CA certificates would cost ~20 ms that
    # pcc-env does not spend for loopback hosts either.
    with httpx.Client(base_url=os.environ["PIPECAT_API_HOST"], headers=headers, verify=False) as c:
        for attempt in stamina.retry_context(on=httpx.TransportError):
            with attempt:
                found = c.get(url)
        markers = []
        if found.status_code == 200:
            keys = [s.fieldName for s in SecretSet.model_validate_json(found.content).secrets]
            markers = [k for k in keys if k.startswith("PCCENV_REV")]
        # The request a shared revision record costs (issue 22 allows one): the previous
        # record's marker deleted (a 404 when there is none), a new one sent in the PUT.
        gone = c.delete(f"{url}/{markers[-1] if markers else 'PCCENV_REV1_NONE'}")
        if gone.status_code not in (200, 404):
            gone.raise_for_status()
        marker = "PCCENV_REV1_" + hashlib.sha256(repr(sorted(values)).encode()).hexdigest()[:16]
        pairs = {**values, marker.upper(): "record"}
        body = {"secrets": [{"secretKey": k, "secretValue": v} for k, v in pairs.items()]}
        c.put(url, json=body).raise_for_status()
        status = SecretSet.model_validate_json(c.get(url).content).status
    print(f"pushed {len(values)} keys; {status}")


if __name__ == "__main__":
    app()
