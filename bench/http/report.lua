-- wrk script: only a done() hook, so wrk still sends its static request (no per-request Lua).
-- Prints one machine-readable line for bench/http/run.sh; latencies in microseconds.
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f " ..
        "err_connect=%d err_read=%d err_write=%d err_timeout=%d non2xx3xx=%d\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
        e.connect, e.read, e.write, e.timeout, e.status))
end
