"""What every REST API of the console shares: error answers, strict JSON parsing, paging
and token authentication."""
