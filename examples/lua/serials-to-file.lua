-- serials-to-file.lua: append one line per issued certificate to a file
-- under allow_dir: "serial<TAB>subject<TAB>not after (UTC)".
--
--   certmint exit register serials-to-file.lua
--   [SerialLog.Exit]
--   allow = file
--   allow_dir = /var/lib/certmint/reports
--   file = issued.tsv             ; relative to allow_dir
local file

return {
	name = "SerialLog.Exit",
	description = "appends issued serials to a file",
	events = { "CERTISSUED", "CERTIMPORTED" },
	threading = "serial",
	initialize = function(config, srv)
		file = srv:config("file") or "issued.tsv"
	end,
	notify = function(event, context, srv)
		local serial = srv:certificate_property("SerialNumber")
		local dn = srv:certificate_property("DistinguishedName") or ""
		local na = srv:certificate_property("NotAfter")
		if not serial then
			return true	-- nothing to record
		end
		local line = string.format("%s\t%s\t%s\n", serial, dn,
		    os.date("!%Y-%m-%dT%H:%M:%SZ", na))
		return certmint.append_file(file, line)
	end,
}
