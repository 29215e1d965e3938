"""The shape shared by the worker's own threads (the S3 event consumer, the outbox relay, the
liveness watch): a bootstep that runs `run()` in a daemon thread of the worker's main process and
stops it, through `self._stop`, with the worker."""

import threading

from celery import bootsteps


class ThreadStep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Pool"}
    thread_name = "worker-thread"

    def __init__(self, worker, **kwargs):
        self._stop = threading.Event()
        self._thread = None

    def start(self, worker):
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, worker):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run(self):
        raise NotImplementedError
