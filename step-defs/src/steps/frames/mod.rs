//! Frames: writing and reading them, copied or in place (feature 01), their sizes and limits
//! (4.4, 4.6, 4.7, 5.7), waiting for space and flow control (4.1, 4.5, 4.8, 4.10, 6.3),
//! signals (4.2, 6.4), rapid cycles and streams (1.6, 1.7, 4.9, 6.2), wrap-around (5.5), and
//! the contents that must arrive whole (7.3, 7.4).

mod barriers;
mod flow;
mod limits;
mod pattern;
mod rapid;
mod read;
mod signals;
mod sizes;
mod stream;
mod sync;
mod wait;
mod wrap;
mod write;
mod zero_copy;
