//! Baselines and load generators for the benchmark scripts (`scripts/bench.sh`). Each floor
//! here is the simplest program that does the same job as an exercise, so a benchmark can
//! report the exercise's figure as a fraction of what the machine allows.
//!
//! - `tcp-floor`: one file over one loopback TCP connection with `std::io::copy` on both
//!   sides: no framing, no checksum, no temporary file (Ej. 2 over TCP is measured against
//!   it; `scripts/bench.sh ej2`).
//! - `chat-load`: N members join a running chat room (TCP or UDP), each sends M messages,
//!   and every delivery to every other member is timed (`scripts/bench.sh chatroom`).
//! - `idle-conns`: opens many TCP connections to one server and holds them silent, to
//!   measure what idle clients cost a thread-per-client server (`scripts/bench.sh load`).
//!
//! The TIME benchmark's floor lives with its exercise:
//! `exercises/practica-tcp/tcp13-time/examples/time-floor.rs` (`scripts/bench.sh time`).
