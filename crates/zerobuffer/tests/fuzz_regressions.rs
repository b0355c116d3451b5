//! Inputs the fuzz targets (`fuzz/`, `scripts/fuzz.sh`) found, replayed as ordinary tests: each
//! writes the hostile bytes into a live segment through `/dev/shm/NAME` (as a peer process
//! would) and checks that the library now answers with a typed error instead of a panic.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt as _;

use zerobuffer::layout::oieb;
use zerobuffer::{BufferConfig, Error, Reader, Writer};
use zerobuffer_test_support::{assert_clean, unique_name};

/// Overwrites the OIEB word at `offset` of buffer `name`, as a peer process can.
fn set_oieb_word(name: &str, offset: usize, value: u64) {
    let segment = OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .unwrap();
    segment
        .write_all_at(&value.to_le_bytes(), offset as u64)
        .unwrap();
}

/// fuzz target `writer`, crash-feb29e6e504e6894b267046c31947e927f6d5e6c: a reader's OIEB
/// announcing a ring of 7 bytes (the real one holds 64). The writer connected, and its first
/// write computed the largest frame as `7 - 16` and panicked with an overflow. A ring that
/// cannot hold a frame header is not a v1 buffer: the connect is refused.
#[test]
fn writer_refuses_a_ring_smaller_than_a_frame_header() {
    let name = unique_name("fuzz_tiny_ring");
    // A 64-byte ring, as in the fuzz input.
    let reader = Reader::create(&name, BufferConfig::new(256, 1)).unwrap();
    for payload_size in [7, 1, 15, 16] {
        set_oieb_word(&name, oieb::PAYLOAD_SIZE, payload_size);
        match Writer::connect(&name) {
            Err(Error::InvalidOieb(message)) => {
                assert!(message.contains("payload size"), "{message}")
            }
            Ok(mut writer) => {
                let result = writer.write_frame(&[71; 18247]);
                panic!("connected to a {payload_size}-byte ring; a write gave {result:?}");
            }
            Err(e) => panic!("ring of {payload_size} bytes: unexpected error {e:?}"),
        }
    }
    // The smallest ring that holds a frame (17 bytes: a header and one data byte) is accepted.
    set_oieb_word(&name, oieb::PAYLOAD_SIZE, 17);
    let mut writer = Writer::connect(&name).unwrap();
    assert!(matches!(
        writer.write_frame(&[1, 2]),
        Err(Error::FrameTooLarge { len: 2, max: 1 })
    ));
    drop(writer);
    drop(reader);
    assert_clean(&name);
}
