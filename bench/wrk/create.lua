-- POST /Users with Entra's create body, a new userName every time.
dofile(os.getenv("WRK_DIR") .. "/common.lua")
request = create
