-- wrk script for /health during the login storm: a light, paced load (each connection waits
-- BENCH_AUTH_HEALTH_DELAY_MS between requests, passed as the script argument) whose latency
-- shows whether kiln's I/O threads stay free while the CPU pool hashes.
-- bench/auth/run.sh appends bench/http/report.lua (the done() hook) to this file.
local pause_ms = 10
function init(args)
    pause_ms = tonumber(args[1] or "10")
end

function delay()
    return pause_ms
end
