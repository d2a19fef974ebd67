//! Retransmission timeout from measured round trips: Jacobson/Karels (RFC 6298) with Karn's
//! rule, as in unpv13e `rtt/rtt.c`.
//!
//! Each side keeps a smoothed round-trip time `srtt` and its mean deviation `rttvar`:
//!
//! ```text
//! first sample r:   srtt = r                 rttvar = r / 2
//! later samples:    rttvar = 3/4 rttvar + 1/4 |srtt - r|
//!                   srtt   = 7/8 srtt   + 1/8 r
//! timeout:          rto = clamp(srtt + 4 rttvar, MIN_RTO, MAX_RTO)
//! ```
//!
//! After a timeout the timeout doubles (up to [`MAX_RTO`]) until a sample arrives, which ends
//! the backoff. Which answers give a sample:
//!
//! - **Karn's rule:** a round trip is measured only on a datagram sent once, because the
//!   answer to a retransmitted one could belong to either copy. Alone, this rule keeps a lossy
//!   path backed off: an exchange that needed a retransmission gives no sample, so the next
//!   exchange starts with the doubled timeout, and at 30% loss each way a dialogue spends
//!   most of its time in 3 s waits.
//! - **Echoed copy numbers** lift it for requests: each copy of a REQUEST carries its number
//!   in `flags` and the REPLY echoes the number of the copy it answers
//!   ([`super::wire::UNKNOWN_COPY`]), as TCP's timestamp option echoes `TSval` (RFC 7323,
//!   section 4). The client then times the copy that was answered, retransmitted or not, and
//!   the backoff ends after every answered request. A REPLY echoing 0 (an older server, the
//!   answer to an upload) falls back to Karn's rule.
//!
//! Bulk transfers number their transmissions themselves and time only chunks sent once
//! ([`super::bulk`]).

use std::time::Duration;

/// Timeout before any round trip has been measured: longer than a round trip across a
/// continent (~150 ms), short enough that a first datagram lost costs little.
pub const INITIAL_RTO: Duration = Duration::from_millis(300);

/// Floor of the timeout: operating system timers and thread scheduling are only this
/// precise, and a timeout shorter than a scheduling hiccup would resend data that is not lost.
pub const MIN_RTO: Duration = Duration::from_millis(20);

/// Ceiling of the timeout, also after doubling: a sender retries at least this often, so a
/// peer that comes back is noticed within seconds.
pub const MAX_RTO: Duration = Duration::from_secs(3);

/// A round-trip estimator and the retransmission timeout derived from it.
#[derive(Debug, Clone)]
pub struct Rtt {
    srtt: Option<Duration>,
    rttvar: Duration,
    backoff: u32,
}

impl Default for Rtt {
    fn default() -> Self {
        Rtt::new()
    }
}

impl Rtt {
    /// An estimator with no measurement yet ([`INITIAL_RTO`]).
    pub fn new() -> Rtt {
        Rtt {
            srtt: None,
            rttvar: Duration::ZERO,
            backoff: 0,
        }
    }

    /// The smoothed round-trip time, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// The timeout without backoff.
    pub fn base_rto(&self) -> Duration {
        match self.srtt {
            None => INITIAL_RTO,
            Some(srtt) => (srtt + 4 * self.rttvar).clamp(MIN_RTO, MAX_RTO),
        }
    }

    /// The current timeout: the base doubled once per timeout since the last clean sample.
    pub fn rto(&self) -> Duration {
        let base = self.base_rto();
        base.checked_mul(1 << self.backoff.min(16))
            .unwrap_or(MAX_RTO)
            .min(MAX_RTO)
    }

    /// Records a round trip measured on a datagram whose answer is known to be for the copy
    /// timed: one sent once (Karn's rule), or the copy a REPLY's echo names. Ends any backoff.
    pub fn sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = self.rttvar * 3 / 4 + diff / 4;
                self.srtt = Some(srtt * 7 / 8 + r / 8);
            }
        }
        self.backoff = 0;
    }

    /// Records a timeout: the next timeout is twice as long (exponential backoff).
    pub fn back_off(&mut self) {
        if self.rto() < MAX_RTO {
            self.backoff += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Before any sample the timeout is the initial one, and it doubles up to the ceiling.
    #[test]
    fn backoff_doubles_from_initial_up_to_max() {
        let mut r = Rtt::new();
        let mut seen = vec![r.rto()];
        for _ in 0..6 {
            r.back_off();
            seen.push(r.rto());
        }
        assert_eq!(
            seen,
            [
                ms(300),
                ms(600),
                ms(1200),
                ms(2400),
                ms(3000),
                ms(3000),
                ms(3000)
            ]
        );
    }

    /// The first sample sets srtt = r and rttvar = r/2, so the timeout is 3r (above the floor).
    #[test]
    fn first_sample_gives_three_round_trips() {
        let mut r = Rtt::new();
        r.sample(ms(100));
        assert_eq!(r.srtt(), Some(ms(100)));
        assert_eq!(r.rto(), ms(300));
    }

    /// Steady samples shrink the deviation, so the timeout approaches srtt (or the floor).
    #[test]
    fn steady_samples_converge_and_respect_floor() {
        let mut r = Rtt::new();
        for _ in 0..50 {
            r.sample(ms(40));
        }
        assert_eq!(r.srtt(), Some(ms(40)));
        assert!(r.rto() >= ms(40) && r.rto() < ms(45), "{:?}", r.rto());
        let mut fast = Rtt::new();
        for _ in 0..50 {
            fast.sample(Duration::from_micros(50));
        }
        assert_eq!(fast.rto(), MIN_RTO);
    }

    /// A clean sample after timeouts ends the backoff.
    #[test]
    fn sample_resets_backoff() {
        let mut r = Rtt::new();
        r.sample(ms(100));
        r.back_off();
        r.back_off();
        assert_eq!(r.rto(), ms(1200));
        r.sample(ms(100));
        assert!(r.rto() < ms(300), "{:?}", r.rto());
    }
}
