-- LuaFail.Exit: a script whose notify fails three ways, chosen by the
-- request's "How" attribute: error() (a traceback), nil + why (a retry)
-- and "permanent" (a dead letter at once).
local function inner(how)
	error("refusing " .. how)
end

return {
	name = "LuaFail.Exit",
	events = { "CERTISSUED" },
	notify = function(event, context, srv)
		local how = srv:request_attribute("How") or "ok"
		if how == "retry" then
			return nil, "try again later"
		elseif how == "permanent" then
			return nil, "never deliverable", "permanent"
		elseif how == "ok" then
			return true
		end
		inner(how)
	end,
}
