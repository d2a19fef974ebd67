# Timings and clock differences vary from run to run.
(\d+) TIME queries in [0-9.]+ s: \d+ queries/s	\1 TIME queries in N.NNN s: NNNNN queries/s
(local|- local): [+-]\d+\.\d{6} s	\1: ±N.NNNNNN s
p99: [0-9.]+ / [0-9.]+ / [0-9.]+ µs	p99: N.N / N.N / N.N µs
