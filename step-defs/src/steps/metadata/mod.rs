//! Metadata (feature 03, 4.3): written once, refused when too large or written again, and a
//! buffer without a metadata block.

mod limits;
mod write;
