//! Inspection: the segment read directly through a raw view, independently of the reader's
//! and writer's own views — the OIEB after every operation (12.1), the layout and alignment
//! (12.2), and the continuous free bytes of protocol.md §3.7 (5.6).

mod alignment;
mod free_space;
mod oieb;
