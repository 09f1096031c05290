"""The foundation every layer stands on: typed settings (`foundation.settings`), the one error type
users see (`foundation.errors`), the consoles (`foundation.console`), output-file checks
(`foundation.outfile`), bounded HTTP fetches (`foundation.fetch`) and the one `KEY=VALUE` parser
(`foundation.keyvalue`). It imports nothing else of the project."""
