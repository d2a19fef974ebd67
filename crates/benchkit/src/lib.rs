//! Baselines for the benchmark scripts (`scripts/bench.sh`): each bin here is the simplest
//! program that does the same job as an exercise, so a benchmark can report the exercise's
//! figure as a fraction of what the machine allows ("the floor").
//!
//! - `tcp-floor`: one file over one loopback TCP connection with `std::io::copy` on both
//!   sides: no framing, no checksum, no temporary file (Ej. 2 over TCP is measured against it).
