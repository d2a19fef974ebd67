# the late server was started with the port the first one had
--port \d+	--port 1207
