//! The buffer itself: creating and connecting (1.x, 4.12), the creation race (4.11), its
//! operating-system objects (8.1, 8.2), names (8.3, 12.4) and permissions (10.6).

mod create;
mod naming;
mod objects;
mod permissions;
mod race;
