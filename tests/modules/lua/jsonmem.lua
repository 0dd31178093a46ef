-- LuaJsonMem.Exit: runs into the memory cap inside certmint.json.decode
-- and json.encode (lua_sandbox.sh): the call fails, nothing leaks.
local parts = {}
for i = 1, 20000 do
	parts[i] = string.format('{"k%d":"%s"}', i, string.rep("x", 60))
end
local doc = "[" .. table.concat(parts, ",") .. "]"
return {
	name = "LuaJsonMem.Exit",
	events = { "CERTISSUED" },
	notify = function(event, context, srv)
		local keep = {}
		for i = 1, 1000 do
			keep[i] = certmint.json.decode(doc)
		end
		return true
	end,
}
