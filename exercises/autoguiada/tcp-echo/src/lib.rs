//! What the tcp-echo client and server share: the handout's constants, and the receipt of
//! 2.5.4 (a text and an image on one connection).
//!
//! The plain echo (2.1-2.5.3) has no format of ours: the client's bytes, and the same bytes
//! back, so the handout's Python client and server work against ours. The end of the message
//! is the end of the client's sending side (it shuts it down after the last byte).
//!
//! 2.5.4 (`client --image`, `server --image-dir`) frames each part with `sockcore::frame`,
//! so the receiver knows where the text ends and where the image ends:
//!
//! | direction       | what                      | bytes                                         |
//! |-----------------|---------------------------|-----------------------------------------------|
//! | client → server | the text                  | u32 length (big-endian) + UTF-8               |
//! | client → server | the image's file name     | u32 length + UTF-8 (a bare name, no `/`)      |
//! | client → server | the image                 | u64 size + bytes + u32 CRC-32 (`send_file`)   |
//! | server → client | the receipt               | frame `RECEIVED <size> <crc32 hex>` or `ERROR <why>` |
//! | server → client | the text, echoed          | u32 length + UTF-8 (only after `RECEIVED`)    |

use sockcore::frame::BodySummary;

/// The handout's `MSG`: what the client sends when given no message.
pub const MSG: &str = "Hola Mundo!";

/// The handout's `LONG_MENSAJE`: bytes asked of each `read`, on both sides unless
/// `--recv-size` says otherwise (2.5.3).
pub const LONG_MENSAJE: usize = 1024;

/// 2.5.4: the largest image the server accepts, in bytes: far above any photo, and a limit
/// the server checks before writing anything.
pub const MAX_IMAGE: u64 = 1 << 30;

/// 2.5.4: the receipt's first word.
const RECEIVED: &str = "RECEIVED";

/// 2.5.4: the server's receipt for a stored image: `RECEIVED <size> <crc32 hex>`.
pub fn receipt(body: BodySummary) -> String {
    format!("{RECEIVED} {} {:08x}", body.size, body.crc32)
}

/// Parses a [`receipt`]; `None` when `text` is anything else.
pub fn parse_receipt(text: &str) -> Option<BodySummary> {
    let mut words = text.strip_prefix(RECEIVED)?.strip_prefix(' ')?.split(' ');
    let size = words.next()?.parse().ok()?;
    let crc32 = u32::from_str_radix(words.next()?, 16).ok()?;
    words
        .next()
        .is_none()
        .then_some(BodySummary { size, crc32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A receipt reads back as what it says, and nothing else parses as one.
    #[test]
    fn receipt_round_trips() {
        let body = BodySummary {
            size: 12,
            crc32: 0x1c29_1ca3,
        };
        assert_eq!(receipt(body), "RECEIVED 12 1c291ca3");
        assert_eq!(parse_receipt("RECEIVED 12 1c291ca3"), Some(body));
        assert_eq!(parse_receipt("RECEIVED 12"), None);
        assert_eq!(parse_receipt("RECEIVED 12 1c291ca3 x"), None);
        assert_eq!(parse_receipt("ERROR no"), None);
    }
}
