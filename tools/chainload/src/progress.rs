//! A progress bar for a transfer: at 115200 baud an image of 100 KiB takes
//! about nine seconds, long enough to wonder whether anything is moving.
//! Shown only for images over [`SHOW_ABOVE`] bytes; redrawn in place
//! (`\r`) each time the bar grows by a mark, and ended with a newline.
//!
//! ```text
//! chainload: [###############...............]  50%  45056 of 90112 bytes sent
//! ```

/// Images up to this size go quickly enough without a bar: 64 KiB.
pub const SHOW_ABOVE: usize = 64 * 1024;
/// Marks in a full bar.
const WIDTH: usize = 30;

/// The bar's text for `sent` of `total` bytes.
pub fn bar(sent: usize, total: usize) -> String {
    let sent = sent.min(total);
    // Nothing to send counts as all sent.
    let marks = (sent * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let percent = (sent * 100).checked_div(total).unwrap_or(100);
    format!(
        "chainload: [{}{}] {percent:>3}% {sent:>6} of {total} bytes sent",
        "#".repeat(marks),
        ".".repeat(WIDTH - marks)
    )
}

/// The bar of one transfer: what to print as bytes go out.
pub struct Progress {
    total: usize,
    /// Marks drawn so far (`None`: nothing drawn yet).
    drawn: Option<usize>,
}

impl Progress {
    /// A bar for a transfer of `total` bytes, or `None` if it is small.
    pub fn for_image(total: usize) -> Option<Self> {
        (total > SHOW_ABOVE).then_some(Self { total, drawn: None })
    }

    /// What to print once `sent` bytes are out: the redrawn bar when it
    /// grew by a mark (or first), with a newline once everything is sent.
    pub fn update(&mut self, sent: usize) -> Option<String> {
        let marks = sent.min(self.total) * WIDTH / self.total;
        if self.drawn == Some(marks) {
            return None;
        }
        self.drawn = Some(marks);
        let end = if sent >= self.total { "\n" } else { "" };
        Some(format!("\r{}{end}", bar(sent, self.total)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_bytes_and_share_sent() {
        assert_eq!(bar(0, 90112), format!("chainload: [{}]   0%      0 of 90112 bytes sent", ".".repeat(30)));
        assert_eq!(
            bar(45056, 90112),
            format!("chainload: [{}{}]  50%  45056 of 90112 bytes sent", "#".repeat(15), ".".repeat(15))
        );
        assert_eq!(bar(90112, 90112), format!("chainload: [{}] 100%  90112 of 90112 bytes sent", "#".repeat(30)));
        // More than the total (never happens) is drawn as full, not past the end.
        assert!(bar(100_000, 90112).contains("100%  90112 of 90112"));
        assert!(bar(0, 0).contains("100%"));
    }

    #[test]
    fn small_images_get_no_bar() {
        assert!(Progress::for_image(SHOW_ABOVE).is_none());
        assert!(Progress::for_image(1000).is_none());
        assert!(Progress::for_image(SHOW_ABOVE + 1).is_some());
    }

    #[test]
    fn the_bar_is_redrawn_only_when_it_grows_and_ends_with_a_newline() {
        let total = 300_000;
        let mut progress = Progress::for_image(total).unwrap();
        let first = progress.update(0).unwrap();
        assert!(first.starts_with('\r') && !first.ends_with('\n'));
        assert_eq!(progress.update(1), None, "less than a mark more");
        let mut drawn = 1;
        for sent in (4096..total).step_by(4096) {
            drawn += usize::from(progress.update(sent).is_some());
        }
        assert!(drawn <= 31, "redrawn {drawn} times for 30 marks");
        let last = progress.update(total).unwrap();
        assert!(last.ends_with("100% 300000 of 300000 bytes sent\n"), "{last:?}");
        assert_eq!(progress.update(total), None);
    }
}
