//! The reader's credits: ring space it owes the writer, paid back in ring order only, so the
//! free space the writer sees always starts at its write position (protocol.md §3.6).
//!
//! A `Vec` read from a moving head rather than a `VecDeque`: the common case, one frame taken
//! and released before the next, then costs a push and a clear, all inlined (the deque's push
//! was a call of its own per frame, 5 % of a 1 KiB frame's time in one thread).

/// Head room before paid credits are dropped from the front while others are still owed.
const COMPACT_AFTER: usize = 1024;

#[derive(Debug)]
struct Credit {
    bytes: u64,
    released: bool,
    /// Frames post `sem-r` when paid; skipped tails never do.
    post: bool,
}

/// Credits in ring order, each with a ticket (0, 1, 2, …) to release it by.
#[derive(Debug, Default)]
pub(crate) struct Credits {
    /// `queue[..head]` are paid; `queue[head]` carries ticket `first_ticket`.
    queue: Vec<Credit>,
    head: usize,
    first_ticket: u64,
}

/// What the released credits at the head come to: bytes for the writer, `sem-r` posts owed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Payment {
    pub(crate) bytes: u64,
    pub(crate) posts: usize,
}

impl Credits {
    /// Queues a credit of `bytes` behind all others and returns its ticket. A frame's credit
    /// starts unreleased and posts `sem-r` when paid; a skipped tail is released at once and
    /// posts nothing.
    #[inline]
    pub(crate) fn push(&mut self, bytes: u64, post: bool, released: bool) -> u64 {
        let ticket = self
            .first_ticket
            .wrapping_add((self.queue.len() - self.head) as u64);
        self.queue.push(Credit {
            bytes,
            released,
            post,
        });
        ticket
    }

    /// Marks the credit of `ticket` released; a ticket already paid or never given is ignored.
    #[inline]
    pub(crate) fn release(&mut self, ticket: u64) {
        let index = ticket.wrapping_sub(self.first_ticket) as usize;
        if let Some(credit) = index
            .checked_add(self.head)
            .and_then(|i| self.queue.get_mut(i))
        {
            credit.released = true;
        }
    }

    /// Removes every released credit at the head and returns what they come to.
    #[inline]
    pub(crate) fn pay(&mut self) -> Payment {
        let mut payment = Payment::default();
        while let Some(credit) = self.queue.get(self.head).filter(|c| c.released) {
            payment.bytes += credit.bytes;
            payment.posts += usize::from(credit.post);
            self.head += 1;
            self.first_ticket = self.first_ticket.wrapping_add(1);
        }
        if self.head == self.queue.len() {
            self.queue.clear();
            self.head = 0;
        } else if self.head >= COMPACT_AFTER && self.head * 2 >= self.queue.len() {
            self.queue.drain(..self.head);
            self.head = 0;
        }
        payment
    }

    /// True when nothing is owed.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.queue.len()
    }

    /// Frames whose space has not gone back yet (held, or released behind a held one).
    pub(crate) fn frames_owed(&self) -> usize {
        self.queue[self.head..].iter().filter(|c| c.post).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_releases_pay_at_once() {
        let mut credits = Credits::default();
        for round in 0..3 {
            let ticket = credits.push(100, true, false);
            assert_eq!(ticket, round);
            assert_eq!(credits.pay(), Payment::default());
            credits.release(ticket);
            assert_eq!(
                credits.pay(),
                Payment {
                    bytes: 100,
                    posts: 1
                }
            );
            assert_eq!(credits.frames_owed(), 0);
        }
    }

    #[test]
    fn a_later_release_waits_for_the_earlier_one() {
        let mut credits = Credits::default();
        let first = credits.push(10, true, false);
        assert_eq!(credits.push(7, false, true), 1);
        let second = credits.push(20, true, false);
        credits.release(second);
        assert_eq!(credits.pay(), Payment::default());
        assert_eq!(credits.frames_owed(), 2);
        credits.release(first);
        assert_eq!(
            credits.pay(),
            Payment {
                bytes: 37,
                posts: 2
            }
        );
        credits.release(first); // twice, or long after: nothing more
        assert_eq!(credits.pay(), Payment::default());
    }

    #[test]
    fn tickets_survive_compaction() {
        let mut credits = Credits::default();
        let held = credits.push(1, true, false);
        let rest: Vec<u64> = (0..3 * COMPACT_AFTER as u64)
            .map(|_| credits.push(1, true, false))
            .collect();
        for &ticket in &rest[..2 * COMPACT_AFTER] {
            credits.release(ticket);
        }
        credits.release(held);
        assert_eq!(credits.pay().posts, 2 * COMPACT_AFTER + 1);
        assert!(credits.head < COMPACT_AFTER, "paid credits were dropped");
        for &ticket in rest[2 * COMPACT_AFTER..].iter().rev() {
            credits.release(ticket);
        }
        assert_eq!(credits.pay().posts, COMPACT_AFTER);
        assert_eq!(credits.frames_owed(), 0);
        assert_eq!(credits.push(1, true, false), 1 + 3 * COMPACT_AFTER as u64);
    }
}
