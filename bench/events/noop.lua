-- BenchLua.Exit: the Lua twin of noop_exit.c for bench/events. Reads
-- RequestID and Disposition of each event's request and counts; at
-- shutdown writes "count first_ns last_ns unread" to `output` (relative
-- to allow_dir), as the C module does.
local n, first, last, unread = 0, nil, nil, 0
local output

return {
	name = "BenchLua.Exit",
	threading = "serial",
	events = { "CERTISSUED" },
	initialize = function(config, srv)
		output = srv:config("output") or "lua.out"
	end,
	notify = function(event, context, srv)
		local t = certmint.monotonic()
		first = first or t
		last = t
		if not srv:request_property("RequestID", "long") or
		    not srv:request_property("Disposition", "long") then
			unread = unread + 1
		end
		n = n + 1
		return true
	end,
	shutdown = function()
		if first then
			certmint.append_file(output, string.format("%d %.0f %.0f %d\n",
			    n, first * 1e9, last * 1e9, unread))
		end
	end,
}
