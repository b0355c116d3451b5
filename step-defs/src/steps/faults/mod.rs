//! Faults: corrupted shared memory (5.1, 5.2, 6.1, 10.2), a peer dying mid-operation (5.3,
//! 10.3, 10.4), injected creation failures (7.1, 10.1, 10.5) and exhausted resources (7.2,
//! 11.4). Every fault ends in a typed error and leaves nothing behind.

mod corruption;
mod creation_limits;
mod death;
mod exhaustion;
mod headers;
mod injection;
mod partial_init;
mod sequence;
