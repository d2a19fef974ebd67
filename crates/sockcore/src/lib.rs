//! # sockcore: the socket plumbing every sockets-rs exercise stands on
//!
//! The exercises hold only their handout's dialogue; everything that is easy to get subtly
//! wrong with raw sockets lives here, once, tested:
//!
//! | module       | what it solves                                                          |
//! |--------------|-------------------------------------------------------------------------|
//! | [`frame`]    | TCP is a byte stream: length-prefixed frames, and file bodies streamed through a fixed buffer with a size and a CRC-32 |
//! | [`lines`]    | newline-terminated text over TCP (chats that `nc` can join), each line bounded in length; a bad line is refused, the connection kept |
//! | [`datagram`] | a plain UDP datagram: was it truncated? (the same answer on every OS); ICMP errors |
//! | [`udp`]      | UDP loses, duplicates and reorders: request/response with retries and at-most-once replies, and bulk chunk/ack transfer with a sliding window |
//! | [`udp_channel`] | messages pushed by either side over UDP (chats): acked, repeated, deduplicated, in order per sender; heartbeats; many channels per socket |
//! | [`files`]    | names from the network confined to a root; atomic writes                |
//! | [`net`]      | bind/connect with errors that say what to do; the readiness line; timeouts |
//! | [`limits`]   | a threaded server under load: a cap on connections (the excess refused with a message), idle timeouts, small thread stacks |
//! | [`progress`] | a progress bar on a terminal, nothing when piped                        |
//! | [`cli`]      | exit status and `error: ...` reporting; Python's `input()`              |
//! | [`unframed`] | the handouts' text messages with no boundary on the wire (`TIME`, `Hi TCP Client`): where each one ends |
//! | [`lobby`]    | the handouts' server transcript ("Waiting for clients...", Python's address tuples) from a concurrent server |
//! | [`clock`]    | local time as Python's `datetime.now()` prints it, with the machine's time zone, no dependency |
//!
//! Conventions: integers on the wire are big-endian; functions return [`std::io::Result`] with
//! kinds a caller can match (`UnexpectedEof` the peer left mid-message, `InvalidData` a bad
//! header or a length over its limit, `TimedOut` retries exhausted, `InvalidInput` an unsafe
//! name); messages are lowercase and give the value and the limit.

pub mod cli;
pub mod clock;
pub mod datagram;
pub mod files;
pub mod frame;
pub mod limits;
pub mod lines;
pub mod lobby;
pub mod net;
pub mod progress;
pub mod udp;
pub mod udp_channel;
pub mod unframed;
