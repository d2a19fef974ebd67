# "starting up on localhost port N", "connecting to localhost port N": the handout's port
(starting up on|connecting to) (\S+) port \d+	\1 \2 port 10000
