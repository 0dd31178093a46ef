-- count-requesters.lua: count issued and denied requests per requester and
-- append the running totals, as one JSON object per event, to a file
-- under allow_dir (the last line is the current count). Serial: one Lua
-- state keeps the counts (a concurrent script has one state per thread).
-- The counts start again at each load; the file keeps the history.
--
--   [RequesterCount.Exit]
--   allow = file
--   allow_dir = /var/lib/certmint/reports
--   file = requesters.jsonl
local counts = {}
local file

return {
	name = "RequesterCount.Exit",
	description = "counts issued and denied requests per requester",
	events = { "CERTISSUED", "CERTDENIED" },
	threading = "serial",
	initialize = function(config, srv)
		file = srv:config("file") or "requesters.jsonl"
	end,
	notify = function(event, context, srv)
		local who = srv:request_property("RequesterName") or "(unknown)"
		local kind = certmint.event_name(event) == "CERTISSUED" and
		    "issued" or "denied"
		local c = counts[who] or { issued = 0, denied = 0 }
		c[kind] = c[kind] + 1
		counts[who] = c
		local seq = srv:request_property("EventSequence")
		return certmint.append_file(file, certmint.json.encode({
			seq = seq, counts = counts }) .. "\n")
	end,
}
