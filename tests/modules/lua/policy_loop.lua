-- LuaLoop.Policy: issues, but with the attribute Loop:yes it loops until
-- its instruction budget ends the call (lua_policy.sh).
return {
	name = "LuaLoop.Policy",
	verify_request = function(srv, new_request)
		if srv:request_attribute("Loop") == "yes" then
			while true do end
		end
		return "issue"
	end,
}
