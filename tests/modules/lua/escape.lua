-- LuaEscape.Exit: tries the sandbox escape named by the request's "Try"
-- attribute and appends "TRY refused: why" (or "TRY ESCAPED") to
-- escape.log under allow_dir. The limits (budget, memory, time) end the
-- call instead: lua_sandbox.sh reads those from the dead letters.
local tries = {}

tries.noop = function() return "ok" end
tries.os_execute = function() return os.execute("touch /tmp/escaped") end
tries.io_open = function() return io.open("/etc/passwd") end
tries.io_popen = function() return io.popen("id") end
tries.require = function() return require("io") end
tries.dofile = function() return dofile("/etc/passwd") end
tries.loadfile = function() return loadfile("/etc/passwd") end
tries.package = function() return package.loadlib("libc.so.6", "system") end
tries.debug = function() return debug.getregistry() end
tries.string_dump = function() return string.dump(print) end
tries.bytecode = function()
	-- a precompiled chunk's header; mode "b" is asked for and overridden
	local f, err = load("\27LuaT\0\25\147\13\10\26\10" .. string.rep("\0", 32),
	    "x", "b")
	if f then return f() end
	error(err)
end
tries.string_meta = function()
	local mt = getmetatable("")
	mt.__index = function() return os.execute end
	return ("x").anything
end
tries.string_meta_gc = function()
	return setmetatable("", { __gc = function() end })
end
tries.collect_stop = function() return collectgarbage("stop") end
tries.collect_gen = function() return collectgarbage("generational") end
tries.cstack = function()
	local function f() return string.gsub("x", "x", f) end
	return f()
end
-- Limits: these end the call.
tries.loop = function() while true do end end
tries.pcall_loop = function()
	while true do pcall(function() while true do end end) end
end
tries.coroutine_loop = function()
	coroutine.wrap(function() while true do end end)()
end
tries.rep_bomb = function() return #string.rep("x", 1 << 30) end
tries.table_bomb = function()
	local t = {}
	for i = 1, 1 << 20 do t[i] = ("x"):rep(1 << 24) .. i end
	return #t
end
tries.recursion = function()
	-- 200 locals a frame: the stack's 1M slots run out in 5000 calls
	local names = {}
	for i = 1, 200 do names[i] = "a" .. i end
	local src = "local f; f = function() local " .. table.concat(names, ",") ..
	    " = 1; return f() + a1 end; return f"
	return assert(load(src))()()
end
tries.slow = function()	-- few instructions, much time in C
	while true do local s = ("x"):rep(1 << 16) end
end

return {
	name = "LuaEscape.Exit",
	events = { "CERTISSUED" },
	notify = function(event, context, srv)
		local try = srv:request_attribute("Try") or "noop"
		local f = tries[try]
		if not f then
			return nil, "no such try: " .. try
		end
		local ok, res = pcall(f)
		local line
		if ok and try ~= "noop" then
			line = try .. " ESCAPED: " .. tostring(res)
		elseif ok then
			line = "noop ok"
		else
			line = try .. " refused: " .. tostring(res)
		end
		assert(certmint.append_file("escape.log", line .. "\n"))
		return true
	end,
}
