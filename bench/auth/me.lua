-- wrk script: GET /api/v1/auth/me with a Bearer access token, cycling through one token per
-- session (one per pre-created account). Usage: wrk … -s me.lua <url> -- TOKENS_FILE
-- bench/auth/run.sh appends bench/http/report.lua (the done() hook) to this file.
local threads = 0
function setup(thread)
    thread:set("thread_index", threads)
    threads = threads + 1
end

local requests = {}
local next_request = 1

function init(args)
    for token in io.lines(args[1]) do
        if token ~= "" then
            requests[#requests + 1] = wrk.format("GET", "/api/v1/auth/me", { ["Authorization"] = "Bearer " .. token })
        end
    end
    assert(#requests > 0, "no tokens in " .. args[1])
    next_request = ((thread_index or 0) * 7919) % #requests + 1
end

function request()
    local r = requests[next_request]
    next_request = next_request % #requests + 1
    return r
end
