"""BENCH_TRACE_CPU=1: each request's own CPU time (the thread's, not the process's) on stderr, to
see where a figure's cost lands (e.g. `BENCH_TRACE_CPU=1 BENCH_ONLY=transfer make bench`)."""

import os
import sys
import time


def cpu_trace(get_response):
    def middleware(request):
        cpu, wall = time.thread_time(), time.perf_counter()
        response = get_response(request)
        sys.stderr.write(
            f"CPU {os.getpid()} {request.method} {request.path} "
            f"{1000 * (time.thread_time() - cpu):.1f}ms wall {1000 * (time.perf_counter() - wall):.0f}ms\n"
        )
        return response

    return middleware
