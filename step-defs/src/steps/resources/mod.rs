//! Group I of steps.md (feature 07, system resources): creation failures and resource
//! exhaustion that must leave nothing behind, a multi-field structure published through the
//! ring, and frames of every size checked byte for byte (7.4, in [`pattern`]); 7.1, 7.2 and
//! 7.3 in [`partial_init`], [`exhaustion`] and [`barriers`]. Their mechanisms (creation
//! attempts, /dev/shm watches, descriptor limits) are in [`crate::drivers::faults`] and
//! [`crate::drivers::os`].

mod barriers;
mod exhaustion;
mod partial_init;
mod pattern;
