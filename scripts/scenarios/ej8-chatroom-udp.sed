# the silence before a vanished member is declared gone: 5.0 s, give or take a tick
no answer for \d+\.\d s	no answer for 5.0 s
