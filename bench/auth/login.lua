-- wrk script: POST /api/v1/auth/login, cycling through pre-created accounts.
-- Usage: wrk … -s login.lua <url> -- ACCOUNTS_FILE   (lines "email<TAB>password")
-- bench/auth/run.sh appends bench/http/report.lua (the done() hook) to this file. Every thread
-- starts at a different account so that concurrent logins are spread over the accounts.
local threads = 0
function setup(thread)
    thread:set("thread_index", threads)
    threads = threads + 1
end

local requests = {}
local next_request = 1

function init(args)
    local headers = { ["Content-Type"] = "application/json" }
    for line in io.lines(args[1]) do
        local email, password = line:match("^([^\t]+)\t(.+)$")
        if email then
            local body = string.format('{"email":"%s","password":"%s"}', email, password)
            requests[#requests + 1] = wrk.format("POST", "/api/v1/auth/login", headers, body)
        end
    end
    assert(#requests > 0, "no accounts in " .. args[1])
    -- Threads take disjoint starting points; each then walks the whole list.
    next_request = ((thread_index or 0) * 7919) % #requests + 1
end

function request()
    local r = requests[next_request]
    next_request = next_request % #requests + 1
    return r
end
