-- BenchLua.Policy: the trivial Lua policy of bench/issue/lua-policy.sh.
-- Reads the requested subject's CN (a getter round trip, as a real policy
-- would) and issues.
return {
	name = "BenchLua.Policy",
	threading = "concurrent",
	verify_request = function(srv, new_request)
		if not srv:request_property("Request.CommonName", "string") then
			return "deny", "no CN"
		end
		return "issue"
	end,
}
