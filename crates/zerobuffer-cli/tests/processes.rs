//! Two real processes: a `zerobuffer` child and the library in the test process.
//!
//! "A killed writer is reported to a blocked reader, a killed reader to a blocked writer, each
//! within the timeout plus 1 s; a second writer is rejected; a new reader replaces a SIGKILLed
//! one through stale cleanup." The same holds for a killed child its parent has not reaped yet
//! (a zombie, issue 11), within the timeout plus 5 s, and stale cleanup removes its buffer.

mod common;

use std::time::{Duration, Instant};

use common::{all_objects, exclusive, shared, start_reader, wait_until, Death, Proc, WAIT};
use zerobuffer::testdata::{first_frame_data_mismatch, frame_data};
use zerobuffer::{clean_stale, inspect, BufferConfig, CleanOutcome, Error, Reader, Writer};
use zerobuffer_test_support::{assert_clean, leftovers, unique_name};

const TIMEOUT: Duration = Duration::from_secs(2);
const FRAME_WAIT: Duration = Duration::from_secs(10);

#[test]
fn killed_writer_is_reported_to_a_blocked_reader() {
    dead_writer_is_reported_to_a_blocked_reader(Death::Reaped);
}

#[test]
fn unreaped_killed_writer_is_reported_to_a_blocked_reader() {
    dead_writer_is_reported_to_a_blocked_reader(Death::Zombie);
}

fn dead_writer_is_reported_to_a_blocked_reader(death: Death) {
    let _guard = shared();
    let name = unique_name("deadwriter");
    let reader = Reader::create(&name, BufferConfig::new(0, 65536)).unwrap();
    let mut child = Proc::spawn(&[
        "write",
        &name,
        "--frames",
        "1000000",
        "--size",
        "1024",
        "--timeout-ms",
        "60000",
    ]);
    for seq in 1..=5u64 {
        let frame = reader.read_frame(FRAME_WAIT).unwrap();
        assert_eq!(frame.sequence(), seq);
        assert_eq!(first_frame_data_mismatch(&frame, seq), None);
    }
    child.kill_as(death);

    // Frames already in the ring come first; then the death must be reported within
    // the read timeout plus the grace.
    let mut last = Instant::now();
    let mut seq = 5;
    let error = loop {
        match reader.read_frame(TIMEOUT) {
            Ok(frame) => {
                seq += 1;
                assert_eq!(frame.sequence(), seq);
                assert_eq!(first_frame_data_mismatch(&frame, seq), None);
                assert!(seq < 1000, "the ring cannot hold that many frames");
                last = Instant::now();
            }
            Err(e) => break e,
        }
    };
    let waited = last.elapsed();
    assert!(matches!(error, Error::WriterDead), "{error:?}");
    assert!(
        waited <= TIMEOUT + death.grace(),
        "WriterDead after {waited:?}"
    );
    child.kill_and_reap();
    drop(reader);
    assert_clean(&name);
}

#[test]
fn killed_reader_is_reported_to_a_blocked_writer() {
    dead_reader_is_reported_to_a_blocked_writer(Death::Reaped);
}

#[test]
fn unreaped_killed_reader_is_reported_to_a_blocked_writer() {
    dead_reader_is_reported_to_a_blocked_writer(Death::Zombie);
}

fn dead_reader_is_reported_to_a_blocked_writer(death: Death) {
    let _guard = shared();
    let name = unique_name("deadreader");
    let (mut child, _ready) =
        start_reader(&name, &["--payload-size", "65536", "--timeout-ms", "60000"]);
    let mut writer = Writer::connect(&name).unwrap();
    writer.set_write_timeout(TIMEOUT);
    for seq in 1..=5u64 {
        writer.write_frame(&frame_data(1024, seq)).unwrap();
    }
    child.kill_as(death);

    // Writes succeed until the ring is full; the one that blocks must see the dead reader
    // within the write timeout plus the grace.
    let mut seq = 6;
    let (error, took) = loop {
        let started = Instant::now();
        match writer.write_frame(&frame_data(1024, seq)) {
            Ok(_) => {
                seq += 1;
                assert!(seq < 1000, "the ring cannot hold that many frames");
            }
            Err(e) => break (e, started.elapsed()),
        }
    };
    assert!(matches!(error, Error::ReaderDead), "{error:?}");
    assert!(took <= TIMEOUT + death.grace(), "ReaderDead after {took:?}");
    child.kill_and_reap();
    drop(writer);

    // The killed reader's segment, semaphores and lock file are stale now.
    match clean_stale(&name).unwrap() {
        CleanOutcome::Removed(_) | CleanOutcome::NotFound => {}
        other => panic!("unexpected clean outcome {other:?}"),
    }
    assert_clean(&name);
}

#[test]
fn second_writer_is_rejected() {
    let _guard = shared();
    let name = unique_name("secondwriter");
    let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
    // 20 frames of 1 KiB do not fit a 4 KiB ring: the child stays connected, blocked.
    let child = Proc::spawn(&[
        "write",
        &name,
        "--frames",
        "20",
        "--size",
        "1024",
        "--timeout-ms",
        "30000",
        "--json",
    ]);
    let child_pid = child.pid_u64();
    assert!(
        wait_until(WAIT, || reader.oieb_snapshot().writer_pid == child_pid),
        "the child never connected"
    );
    match Writer::connect(&name) {
        Err(Error::WriterAlreadyConnected { pid }) => assert_eq!(pid, child_pid),
        other => panic!("second writer was not rejected: {other:?}"),
    }
    assert_eq!(reader.oieb_snapshot().writer_pid, child_pid);

    for seq in 1..=20u64 {
        let frame = reader.read_frame(FRAME_WAIT).unwrap();
        assert_eq!(frame.sequence(), seq);
        assert_eq!(first_frame_data_mismatch(&frame, seq), None);
    }
    let out = child.wait(WAIT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.json()["frames"], 20);
    drop(reader);
    assert_clean(&name);
}

#[test]
fn new_reader_replaces_a_killed_one() {
    let _guard = exclusive();
    let name = unique_name("replace");
    let (mut child, _ready) = start_reader(&name, &["--timeout-ms", "60000"]);
    let dead_pid = child.pid_u64();
    child.kill_and_reap();
    assert_eq!(leftovers(&name), all_objects(&name));

    {
        let reader = Reader::create(&name, BufferConfig::new(64, 4096)).unwrap();
        let snapshot = reader.oieb_snapshot();
        assert_ne!(snapshot.reader_pid, dead_pid);
        assert_eq!(snapshot.reader_pid, u64::from(std::process::id()));
        let mut writer = Writer::connect(&name).unwrap();
        writer.write_frame(&frame_data(500, 1)).unwrap();
        let frame = reader.read_frame(FRAME_WAIT).unwrap();
        assert_eq!((frame.sequence(), frame.len()), (1, 500));
        assert_eq!(first_frame_data_mismatch(&frame, 1), None);
    }
    assert_clean(&name);
}

#[test]
fn clean_stale_removes_the_buffer_of_a_zombie_reader_and_writer() {
    // Any reader creation would clean this buffer up before we look at it.
    let _guard = exclusive();
    let name = unique_name("zombies");
    let (mut reader, _ready) = start_reader(&name, &["--timeout-ms", "60000"]);
    let mut writer = Proc::spawn(&[
        "write",
        &name,
        "--frames",
        "1000000",
        "--timeout-ms",
        "60000",
    ]);
    let writer_pid = writer.pid_u64();
    assert!(
        wait_until(WAIT, || inspect(&name)
            .is_ok_and(|info| info.oieb.writer_pid == writer_pid)),
        "the writer never connected"
    );
    reader.kill_leaving_zombie();
    writer.kill_leaving_zombie();

    let outcome = clean_stale(&name).unwrap();
    let mut expected = all_objects(&name);
    expected.sort();
    match outcome {
        CleanOutcome::Removed(mut removed) => {
            removed.sort();
            assert_eq!(removed, expected);
        }
        other => panic!("the zombies' buffer was not removed: {other:?}"),
    }
    reader.kill_and_reap();
    writer.kill_and_reap();
    assert_clean(&name);
}
