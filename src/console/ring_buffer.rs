//! The console's input buffer: a ring of received bytes, filled by the
//! serial port's interrupt (`console::receive_interrupt`) and emptied by
//! readers. What comes while it is full is lost; so may be what the port
//! itself could not hold. Either loss is remembered where it happened, so
//! that a reader that must not join what came before and after it (the
//! shell) is told there ([`RingBuffer::take_gap`]).

/// A ring buffer of received bytes, filled in interrupt context.
pub struct RingBuffer<const N: usize> {
    data: [u8; N],
    head: usize,
    len: usize,
    dropped: usize,
    /// Where bytes were lost (the buffer was full): after how many of the
    /// bytes it holds, and how many (later losses are counted there too).
    gap: Option<(usize, usize)>,
}

impl<const N: usize> RingBuffer<N> {
    pub const fn new() -> Self {
        Self { data: [0; N], head: 0, len: 0, dropped: 0, gap: None }
    }

    /// Adds a byte; when full, the byte is dropped and counted, and the
    /// reader is told where ([`Self::take_gap`]).
    pub fn push(&mut self, byte: u8) {
        if self.len == N {
            self.note_lost(1);
            return;
        }
        self.data[(self.head + self.len) % N] = byte;
        self.len += 1;
    }

    /// Notes that `n` bytes were lost after those it holds (the buffer was
    /// full, or the port's own FIFO was): the reader is told there. A loss
    /// after an earlier one not yet told is counted with it.
    pub fn note_lost(&mut self, n: usize) {
        self.dropped += n;
        let (_, lost) = self.gap.get_or_insert((self.len, 0));
        *lost += n;
    }

    /// The oldest byte. (A reader that cares where bytes were lost asks
    /// [`Self::take_gap`] before each; one that does not reads on.)
    pub fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.data[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        if let Some((before, _)) = &mut self.gap {
            *before = before.saturating_sub(1);
        }
        Some(b)
    }

    /// How many bytes were lost just here, before the next byte to be read
    /// (the buffer was full when they came), if any; forgotten once told.
    pub fn take_gap(&mut self) -> Option<usize> {
        match self.gap {
            Some((0, lost)) => {
                self.gap = None;
                Some(lost)
            }
            _ => None,
        }
    }

    /// How many bytes were lost since boot.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// If `byte` is in the buffer, takes it and every byte before it
    /// (what was typed before an interrupt key goes with it); `true` then.
    /// A gap before it goes too: what was lost came before the key.
    pub fn take_through(&mut self, byte: u8) -> bool {
        let Some(at) = (0..self.len).position(|i| self.data[(self.head + i) % N] == byte) else { return false };
        self.head = (self.head + at + 1) % N;
        self.len -= at + 1;
        self.gap = self.gap.and_then(|(before, lost)| before.checked_sub(at + 1).map(|before| (before, lost)));
        true
    }
}

impl<const N: usize> Default for RingBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::RingBuffer;

    #[test]
    fn take_through_takes_a_byte_and_what_came_before_it() {
        let mut r = RingBuffer::<4>::new();
        for b in [1, 2, 3] {
            r.push(b);
        }
        assert!(!r.take_through(9));
        assert_eq!(r.pop(), Some(1));
        // Wrapped around the end of the ring: 2 3 | 4 5.
        r.push(4);
        r.push(5);
        assert!(r.take_through(4));
        assert_eq!([r.pop(), r.pop()], [Some(5), None]);
        r.push(6);
        assert!(r.take_through(6));
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn a_reader_is_told_where_bytes_were_lost() {
        let mut r = RingBuffer::<4>::new();
        for b in 1..=7 {
            r.push(b);
        }
        // 1 2 3 4 kept, 5 6 7 lost after them: told after the 4th byte, not before.
        assert_eq!(r.take_gap(), None);
        assert_eq!([r.pop(), r.pop(), r.pop()], [Some(1), Some(2), Some(3)]);
        r.push(8);
        assert_eq!(r.pop(), Some(4));
        assert_eq!(r.take_gap(), Some(3));
        assert_eq!([r.pop(), r.pop()], [Some(8), None]);
        assert_eq!((r.take_gap(), r.dropped()), (None, 3));
        // A key taken before a gap leaves it; one after it takes it too.
        for b in [9, 1, 2, 3, 5] {
            r.push(b);
        }
        assert!(r.take_through(9));
        assert_eq!([r.pop(), r.pop(), r.pop()], [Some(1), Some(2), Some(3)]);
        assert_eq!(r.take_gap(), Some(1));
        for b in [1, 2, 3, 4, 5] {
            r.push(b);
        }
        r.pop();
        r.push(7);
        assert!(r.take_through(7));
        assert_eq!((r.take_gap(), r.pop()), (None, None));
    }

    #[test]
    fn ring_buffer_is_fifo_and_counts_drops() {
        let mut r = RingBuffer::<4>::new();
        for b in 1..=6 {
            r.push(b);
        }
        assert_eq!(r.dropped(), 2);
        assert_eq!([r.pop(), r.pop()], [Some(1), Some(2)]);
        r.push(7);
        assert_eq!([r.pop(), r.pop(), r.pop(), r.pop()], [Some(3), Some(4), Some(7), None]);
    }
}
