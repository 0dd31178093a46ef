-- LuaCaps.Exit: uses the opt-in capabilities (append_file, exec), which
-- are off unless its section allows them (lua_sandbox.sh).
return {
	name = "LuaCaps.Exit",
	events = { "CERTISSUED" },
	notify = function(event, context, srv)
		local what = srv:config("try") or "exec"
		if what == "exec" then
			local r = assert(certmint.exec({ "/bin/echo", "exec", "ran" }))
			srv:log("exec said: " .. r.stdout)
		elseif what == "slow" then
			-- Asks for 20 s: the call's own deadline comes first.
			local r = assert(certmint.exec({ "/bin/sleep", "5" },
			    { timeout = 20 }))
			srv:log("slow exec: timeout=" .. tostring(r.timeout))
		else
			assert(certmint.append_file("caps.log", "appended\n"))
			srv:log("append_file ok")
		end
		return true
	end,
}
