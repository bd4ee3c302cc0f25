"""The local AWS stand-in: moto's own server, with its DynamoDB requests handled one at a time.

DynamoDB applies each request atomically: of two conditional writes racing for one item, exactly one passes. moto's
server answers on several threads, and its DynamoDB backend has no lock, so under load two racing conditional
writes can both pass, and two batches that open a new partition at once can lose one batch's items (the table's
per-partition dict is created twice). Tests that race writes on purpose (the enqueue lease, the credential
lifecycle) and tests that count stored commits need DynamoDB's guarantee, so this runs every DynamoDB request
under one lock. SQS and Secrets Manager stay concurrent (a long-polling receive must not hold DynamoDB up).

Usage: the same arguments as `moto_server`.
"""

import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main


def serialise_dynamodb() -> None:
    """Makes every DynamoDB request of this process run alone."""
    lock = threading.Lock()
    handle = DynamoHandler.call_action

    def call_action_alone(self):  # type: ignore[no-untyped-def]
        with lock:
            return handle(self)

    DynamoHandler.call_action = call_action_alone  # type: ignore[method-assign]


if __name__ == "__main__":
    serialise_dynamodb()
    main()
