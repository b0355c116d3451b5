//! Lifecycle: the test environment, a peer's death noticed and its buffer taken over
//! (feature 02), stale resources (8.4), the reader's lock file (12.3), and create/destroy
//! cycles (11.1, 11.5).

mod cycles;
mod environment;
mod lock_file;
mod peer_death;
mod stale;
mod under_load;
