//! A one-line progress bar for long transfers, drawn on stderr only when stderr is a terminal.
//!
//! When output is piped (tests, scripts, `2> log`), nothing is drawn, so transcripts stay
//! exactly the handout's lines.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Minimum time between redraws: 10 per second is smooth and costs nothing.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// Width of the bar in characters.
const BAR_WIDTH: usize = 30;

/// Progress of a transfer of a known number of bytes.
#[derive(Debug)]
pub struct Progress {
    total: u64,
    label: String,
    started: Instant,
    last_draw: Option<Instant>,
    enabled: bool,
}

impl Progress {
    /// A bar for `total` bytes, labelled `label` (e.g. "enviando informe.pdf").
    /// Drawn only if stderr is a terminal.
    pub fn new(total: u64, label: impl Into<String>) -> Progress {
        Progress::with_enabled(total, label, std::io::stderr().is_terminal())
    }

    /// As [`Progress::new`], but drawn or not as `enabled` says.
    pub fn with_enabled(total: u64, label: impl Into<String>, enabled: bool) -> Progress {
        Progress {
            total,
            label: label.into(),
            started: Instant::now(),
            last_draw: None,
            enabled,
        }
    }

    /// Records that `done` bytes of the total have been transferred.
    pub fn update(&mut self, done: u64) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        if self.last_draw.is_some_and(|t| now - t < REDRAW_EVERY) && done < self.total {
            return;
        }
        self.last_draw = Some(now);
        eprint!("\r{}", self.line(done, now - self.started));
        let _ = std::io::stderr().flush();
    }

    /// Ends the bar's line (if one was drawn).
    pub fn finish(&mut self) {
        if self.enabled && self.last_draw.is_some() {
            eprintln!();
        }
    }

    /// The text of the bar: `label [#####     ]  50%  12.0 MiB  300.0 MiB/s`.
    fn line(&self, done: u64, elapsed: Duration) -> String {
        let frac = if self.total == 0 {
            1.0
        } else {
            done as f64 / self.total as f64
        };
        let filled = ((frac * BAR_WIDTH as f64) as usize).min(BAR_WIDTH);
        let mib = done as f64 / (1024.0 * 1024.0);
        let rate = mib / elapsed.as_secs_f64().max(1e-3);
        format!(
            "{} [{}{}] {:3.0}% {:8.1} MiB {:7.1} MiB/s",
            self.label,
            "#".repeat(filled),
            " ".repeat(BAR_WIDTH - filled),
            frac * 100.0,
            mib,
            rate
        )
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
        self.last_draw = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bar shows the fraction, the amount and the rate.
    #[test]
    fn line_shows_fraction() {
        let p = Progress::with_enabled(4 * 1024 * 1024, "x", false);
        let l = p.line(2 * 1024 * 1024, Duration::from_secs(1));
        assert_eq!(
            l,
            format!(
                "x [{}{}]  50%      2.0 MiB     2.0 MiB/s",
                "#".repeat(15),
                " ".repeat(15)
            )
        );
    }
}
