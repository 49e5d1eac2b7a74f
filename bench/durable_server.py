"""The ingest's durable baseline: a bare aiohttp handler that appends the body to Kafka with one
confluent-kafka produce (okrate's producer settings: acks=all, idempotent) and answers 200 once a
delivery callback reports the broker's acknowledgement. Nothing else: no authentication, no
validation, no envelope, no metrics. No durable handler can be faster on this stack.

Usage: python -m bench.durable_server PORT BOOTSTRAP TOPIC
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading

from aiohttp import web
from confluent_kafka import Producer

from base.kafka_clients import producer_config

PRODUCER = web.AppKey("producer", Producer)


def main() -> None:
    port, bootstrap, topic = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    producer = Producer(producer_config(bootstrap))
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            producer.poll(0.1)

    # The ingest keys each message by its issue: keys spread over the partitions here too.
    keys = itertools.cycle([str(i).encode() for i in range(2000)])

    async def accept(request: web.Request) -> web.Response:
        body = await request.read()
        loop = asyncio.get_running_loop()
        acked = loop.create_future()

        def delivered(err, msg) -> None:  # on the polling thread
            loop.call_soon_threadsafe(acked.set_result, (err, msg.partition(), msg.offset()))

        producer.produce(topic, key=next(keys), value=body, on_delivery=delivered)
        err, partition, offset = await acked
        if err is not None:
            return web.json_response({"error": str(err)}, status=503)
        return web.json_response({"status": "accepted", "partition": partition, "offset": offset})

    async def start_poller(_app: web.Application) -> None:
        threading.Thread(target=poll, daemon=True).start()

    async def flush(_app: web.Application) -> None:
        stop.set()
        await asyncio.to_thread(producer.flush, 10)

    app = web.Application()
    app.router.add_post("/okdesk-webhook", accept)
    app.on_startup.append(start_poller)
    app.on_cleanup.append(flush)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
