"""What reading one POST /Users body costs: scimhub's ``read_resource`` against the peer's model (ADR 0080).

    .venv/bin/python bench/body_reading.py [--bodies 2000] [--rounds 3] [--instructions]

Every create goes through ``scim.values.read_resource``: the body (Entra's, bench/seed.py) read
against the User schema into the stored document, every value checked, Entra's dialect applied.
In this process, in alternated rounds, it times that for ``--bodies`` distinct bodies, and the same
bodies through the peer's own reading (scim2-models' ``User[EnterpriseUser].model_validate`` in a
resource creation context, what scim2-server does with a POST), and prints CPU µs per body and the
ratio. Without the peer (bench/requirements.txt) it times scimhub alone.

``--instructions`` counts scimhub's instructions per body instead (valgrind's callgrind, collecting
only inside one ``functools.reduce`` over the bodies after a warm-up): a figure the machine's other
work does not move, to compare two trees run through ``PYTHONPATH=<tree>/src``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import time
from collections.abc import Callable
from typing import Any

from callgrind import instructions_in_reduce
from seed import user_body

from scimhub.query.schema import USER
from scimhub.scim.values import read_resource

WARM_UP = 200


def _bodies(count: int) -> list[dict[str, Any]]:
    return [user_body("reading", index) for index in range(count)]


def _cpu_per_body(read: Callable[[dict[str, Any]], object], bodies: list[dict[str, Any]]) -> float:
    for body in bodies[:WARM_UP]:
        read(body)
    started = time.process_time()
    for body in bodies:
        read(body)
    return (time.process_time() - started) / len(bodies)


def _peer_reader() -> Callable[[dict[str, Any]], object] | None:
    if importlib.util.find_spec("scim2_models") is None:
        return None
    from scim2_models import Context, EnterpriseUser, User  # noqa: PLC0415 - the peer's, optional

    model = User[EnterpriseUser]
    return lambda body: model.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)


def _instructions(count: int) -> float:
    """Return scimhub's instructions per body, counted by callgrind in a child process."""
    return instructions_in_reduce(__file__, f"--bodies={count}", "--in-reduce") / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bodies", type=int, default=2000, help="distinct bodies per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    parser.add_argument("--instructions", action="store_true", help="count instructions (callgrind)")
    parser.add_argument("--in-reduce", action="store_true", help=argparse.SUPPRESS)  # --instructions' child
    options = parser.parse_args()
    bodies = _bodies(options.bodies)
    scimhub = functools.partial(read_resource, USER)
    if options.in_reduce:
        for body in bodies[:WARM_UP]:
            scimhub(body)
        functools.reduce(lambda _, body: scimhub(body), bodies, None)
        return
    if options.instructions:
        print(f"read_resource, Entra's create body: {_instructions(options.bodies) / 1e3:.1f} K instructions")
        return
    peer = _peer_reader()
    print("| round | scimhub µs per body | peer µs per body | scimhub ÷ peer (time) |")
    print("| ---: | ---: | ---: | ---: |")
    for round_ in range(1, options.rounds + 1):
        ours = _cpu_per_body(scimhub, bodies)
        if peer is None:
            print(f"| {round_} | {ours * 1e6:.1f} | — | — |")
            continue
        theirs = _cpu_per_body(peer, bodies)
        print(f"| {round_} | {ours * 1e6:.1f} | {theirs * 1e6:.1f} | {ours / theirs:.3f} |")


if __name__ == "__main__":
    main()
