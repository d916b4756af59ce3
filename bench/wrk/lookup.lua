-- GET /Users?filter=userName eq "<one of the loaded users>": Entra's most frequent request.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = lookup
