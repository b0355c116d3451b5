//! The `zerobuffer` command against the library in the test process.

mod common;

use std::time::{Duration, Instant};

use common::{all_objects, exclusive, run, shared, start_reader, Proc, WAIT};
use zerobuffer::testdata::{first_frame_data_mismatch, frame_data};
use zerobuffer::{BufferConfig, Error, Reader, Writer};
use zerobuffer_test_support::{assert_clean, leftovers, unique_name};

/// Longest wait for one frame in the test process.
const FRAME_WAIT: Duration = Duration::from_secs(10);

fn cycle(min: u64, max: u64, i: u64) -> usize {
    (min + (i - 1) % (max - min + 1)) as usize
}

/// Reads `count` frames and checks sequence, size and pattern of each.
fn expect_frames(reader: &Reader, count: u64, size_of: impl Fn(u64) -> usize) -> u64 {
    let mut bytes = 0;
    for i in 1..=count {
        let frame = reader.read_frame(FRAME_WAIT).unwrap();
        assert_eq!(frame.sequence(), i);
        assert_eq!(frame.len(), size_of(i), "size of frame {i}");
        assert_eq!(
            first_frame_data_mismatch(&frame, i),
            None,
            "data of frame {i}"
        );
        bytes += frame.len() as u64;
    }
    bytes
}

#[test]
fn write_feeds_a_library_reader_with_metadata_and_cycling_sizes() {
    let _guard = shared();
    let name = unique_name("write");
    let reader = Reader::create(&name, BufferConfig::new(1024, 65536)).unwrap();
    let child = Proc::spawn(&[
        "write",
        &name,
        "--frames",
        "300",
        "--sizes",
        "1..1000",
        "--metadata",
        "hello",
        "--json",
    ]);
    let bytes = expect_frames(&reader, 300, |i| cycle(1, 1000, i));
    assert_eq!(reader.metadata().unwrap(), b"hello");
    let out = child.wait(WAIT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let json = out.json();
    assert_eq!(json["frames"], 300);
    assert_eq!(json["bytes"], bytes);
    assert_eq!(json["metadata_len"], 5);
    assert_eq!(json["sequence_errors"], 0);
    assert_eq!(json["pattern_errors"], 0);
    assert!(json["elapsed_ms"].as_f64().unwrap() >= 0.0);
    // The writer left gracefully and everything was read.
    assert!(matches!(
        reader.read_frame(Duration::from_secs(2)),
        Err(Error::WriterDead)
    ));
    drop(reader);
    assert_clean(&name);
}

#[test]
fn sizes_cycle_from_min_to_max_and_size_is_fixed() {
    let _guard = shared();
    let name = unique_name("sizes");
    let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
    let out = run(&["write", &name, "--frames", "10", "--sizes", "3..6"]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with("wrote 10 frames, 43 bytes"),
        "{out:?}"
    );
    let sizes: Vec<usize> = (0..10)
        .map(|_| reader.read_frame(FRAME_WAIT).unwrap().len())
        .collect();
    assert_eq!(sizes, [3, 4, 5, 6, 3, 4, 5, 6, 3, 4]);

    // Defaults: one frame of 1024 bytes, sequence 1 (a new writer session).
    let out = run(&["write", &name]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let frame = reader.read_frame(FRAME_WAIT).unwrap();
    assert_eq!((frame.sequence(), frame.len()), (1, 1024));
    assert_eq!(first_frame_data_mismatch(&frame, 1), None);
    drop(frame);
    drop(reader);
    assert_clean(&name);
}

#[test]
fn read_validates_a_library_writer_until_it_leaves() {
    let _guard = shared();
    let name = unique_name("read");
    let (child, _ready) = start_reader(&name, &["--validate", "--json", "--payload-size", "65536"]);
    let mut writer = Writer::connect(&name).unwrap();
    writer.set_metadata(b"meta-data").unwrap();
    let mut bytes = 0;
    for seq in 1..=500u64 {
        let size = cycle(1, 3000, seq * 7);
        writer.write_frame(&frame_data(size, seq)).unwrap();
        bytes += size as u64;
    }
    drop(writer);
    let out = child.wait(WAIT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let json = out.json();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "bytes",
            "elapsed_ms",
            "frames",
            "metadata_len",
            "pattern_errors",
            "sequence_errors"
        ]
    );
    assert_eq!(json["frames"], 500);
    assert_eq!(json["bytes"], bytes);
    assert_eq!(json["metadata_len"], 9);
    assert_eq!(json["sequence_errors"], 0);
    assert_eq!(json["pattern_errors"], 0);
    assert_clean(&name);
}

#[test]
fn read_with_frames_stops_after_n_while_the_writer_stays() {
    let _guard = shared();
    let name = unique_name("readn");
    let (child, _ready) = start_reader(&name, &["--frames", "5", "--validate"]);
    let mut writer = Writer::connect(&name).unwrap();
    for seq in 1..=5u64 {
        writer.write_frame(&frame_data(100, seq)).unwrap();
    }
    let out = child.wait(WAIT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with("read 5 frames, 500 bytes in "),
        "{out:?}"
    );
    assert!(out.stdout.contains("0 sequence errors, 0 pattern errors"));
    // The reader is gone: the next write notices.
    assert!(matches!(
        writer.write_frame(&[1; 10]),
        Err(Error::ReaderDead)
    ));
    drop(writer);
    assert_clean(&name);
}

#[test]
fn read_accepts_a_new_writer_restarting_at_sequence_one() {
    let _guard = shared();
    let name = unique_name("restart");
    let (child, _ready) = start_reader(&name, &["--frames", "6", "--validate", "--json"]);
    // Stopped, the reader cannot take the first writer's leaving for the end of the stream.
    child.signal("STOP");
    for _session in 0..2 {
        let mut writer = Writer::connect(&name).unwrap();
        for seq in 1..=3u64 {
            writer.write_frame(&frame_data(64, seq)).unwrap();
        }
    }
    child.signal("CONT");
    let out = child.wait(WAIT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let json = out.json();
    assert_eq!(
        (json["frames"].as_u64(), json["bytes"].as_u64()),
        (Some(6), Some(384))
    );
    assert_eq!(json["sequence_errors"], 0);
    assert_eq!(json["pattern_errors"], 0);
    assert_clean(&name);
}

#[test]
fn read_counts_pattern_errors_and_fails() {
    let _guard = shared();
    let name = unique_name("badpattern");
    let (child, _ready) = start_reader(&name, &["--frames", "4", "--validate", "--json"]);
    let mut writer = Writer::connect(&name).unwrap();
    for seq in 1..=4u64 {
        // Frames 2 and 4 carry the pattern of the wrong sequence number.
        let pattern_seq = if seq % 2 == 0 { seq + 1 } else { seq };
        writer.write_frame(&frame_data(300, pattern_seq)).unwrap();
    }
    let out = child.wait(WAIT);
    let json = out.json();
    assert_eq!(json["frames"], 4);
    assert_eq!(json["pattern_errors"], 2);
    assert_eq!(json["sequence_errors"], 0);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with(
            "zerobuffer: error: validation failed: 0 sequence errors, 2 pattern errors"
        ),
        "{out:?}"
    );
    drop(writer);
    assert_clean(&name);
}

#[test]
fn read_reports_a_corrupt_sequence_number() {
    use std::io::{Seek, SeekFrom, Write};
    let _guard = shared();
    let name = unique_name("badseq");
    let (child, _ready) = start_reader(
        &name,
        &[
            "--frames",
            "3",
            "--metadata-size",
            "0",
            "--validate",
            "--json",
        ],
    );
    child.signal("STOP");
    let mut writer = Writer::connect(&name).unwrap();
    writer.write_frame(&frame_data(100, 1)).unwrap();
    writer.write_frame(&frame_data(100, 2)).unwrap();
    // Frame 2's header sits at 128 (OIEB) + 116 (frame 1); its sequence field 8 bytes later.
    let mut segment = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .unwrap();
    segment.seek(SeekFrom::Start(128 + 116 + 8)).unwrap();
    segment.write_all(&7u64.to_le_bytes()).unwrap();
    drop(segment);
    child.signal("CONT");
    let out = child.wait(WAIT);
    let line = out.assert_one_error_line();
    assert!(
        line.contains("cannot read frame 2: Sequence error: expected 2, got 7"),
        "{line}"
    );
    let json = out.json();
    assert_eq!(json["frames"], 1);
    assert_eq!(json["sequence_errors"], 1);
    drop(writer);
    assert_clean(&name);
}

#[test]
fn read_without_a_writer_times_out_and_removes_the_buffer() {
    let _guard = shared();
    let name = unique_name("notimely");
    let started = Instant::now();
    let out = run(&["read", &name, "--timeout-ms", "300", "--json"]);
    let line = out.assert_one_error_line();
    assert!(
        line.contains("no frame within 300 ms (after 0 frames)"),
        "{line}"
    );
    assert_eq!(out.json()["frames"], 0);
    assert!(started.elapsed() < WAIT);
    assert_clean(&name);
}

#[test]
fn write_without_a_reader_gives_up_after_the_timeout() {
    let name = unique_name("noreader");
    let out = run(&["write", &name, "--timeout-ms", "300"]);
    let line = out.assert_one_error_line();
    assert!(
        line.contains(&format!("cannot connect to buffer {name:?} within 300 ms")),
        "{line}"
    );
    assert!(line.contains("not found"), "{line}");
    assert_eq!(out.stdout, "");
    assert_clean(&name);
}

#[test]
fn write_waits_for_a_reader_that_starts_later() {
    let _guard = shared();
    let name = unique_name("latereader");
    let child = Proc::spawn(&["write", &name, "--frames", "3", "--timeout-ms", "10000"]);
    std::thread::sleep(Duration::from_millis(300));
    let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
    expect_frames(&reader, 3, |_| 1024);
    let out = child.wait(WAIT);
    assert_eq!(out.code(), Some(0), "{out:?}");
    drop(reader);
    assert_clean(&name);
}

#[test]
fn inspect_decodes_a_live_buffer() {
    let _guard = shared();
    let name = unique_name("inspect");
    let reader = Reader::create(&name, BufferConfig::new(100, 10000)).unwrap();
    let mut writer = Writer::connect(&name).unwrap();
    writer.set_metadata(b"abc").unwrap();
    writer.write_frame(&frame_data(100, 1)).unwrap();
    writer.write_frame(&frame_data(200, 2)).unwrap();
    drop(reader.read_frame(FRAME_WAIT).unwrap());
    let me = u64::from(std::process::id());

    let out = run(&["inspect", &name, "--json"]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let j = out.json();
    let expect = [
        ("segment_size", 128 + 128 + 10048),
        ("oieb_size", 128),
        ("metadata_size", 128),
        ("metadata_free_bytes", 128 - 11),
        ("metadata_written_bytes", 11),
        ("payload_size", 10048),
        ("payload_free_bytes", 10048 - 216),
        ("payload_write_pos", 116 + 216),
        ("payload_read_pos", 116),
        ("payload_written_count", 2),
        ("payload_read_count", 1),
        ("writer_pid", me),
        ("reader_pid", me),
    ];
    for (field, value) in expect {
        assert_eq!(j[field], value, "{field}: {j}");
    }
    assert_eq!(j["name"], name.as_str());
    assert_eq!(j["version"], "1.0.0");
    assert_eq!(j["version_reserved"], 0);
    assert_eq!(j["reader_alive"], true);
    assert_eq!(j["writer_alive"], true);
    assert_eq!(j.as_object().unwrap().len(), expect.len() + 5);

    let out = run(&["inspect", &name]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let row = |label: &str| {
        let line = out.stdout.lines().find(|l| l.starts_with(label)).unwrap();
        line[label.len()..].trim().to_owned()
    };
    assert_eq!(row("reader pid"), format!("{me} (alive)"));
    assert_eq!(row("payload written count"), "2");
    assert_eq!(row("segment size"), "10304 bytes");
    assert_eq!(out.stdout.lines().count(), 15);

    drop(writer);
    drop(reader);
    assert_clean(&name);
}

#[test]
fn inspect_of_a_missing_buffer_fails_with_one_line() {
    let name = unique_name("missing");
    let out = run(&["inspect", &name]);
    let line = out.assert_one_error_line();
    assert!(line.contains("not found"), "{line}");
    assert_eq!(out.stdout, "");
}

#[test]
fn bad_names_fail_with_one_line() {
    for args in [
        &["read", "a/b"][..],
        &["write", "a/b", "--timeout-ms", "100"],
        &["inspect", "a/b"],
        &["clean", "a/b"],
    ] {
        let out = run(args);
        let line = out.assert_one_error_line();
        assert!(line.contains("\"a/b\""), "{args:?}: {line}");
        assert!(line.contains("contains '/'"), "{args:?}: {line}");
        assert_eq!(out.stdout, "", "{args:?}");
    }
}

/// Both ends as processes, each with its own wait strategy: every strategy meets every other
/// on the wire (a small ring, so the writer waits for space as often as the reader for data).
#[test]
fn read_and_write_agree_whatever_each_side_waits_with() {
    let _guard = shared();
    for (reader_wait, writer_wait) in [
        ("busy-spin", "block"),
        ("block", "busy-spin"),
        ("spin-then-block:20", "spin-then-block"),
    ] {
        let name = unique_name("waits");
        let (reader, _ready) = start_reader(
            &name,
            &[
                "--validate",
                "--json",
                "--frames",
                "2000",
                "--payload-size",
                "16384",
                "--wait",
                reader_wait,
            ],
        );
        let writer = Proc::spawn(&[
            "write",
            &name,
            "--frames",
            "2000",
            "--sizes",
            "1..3000",
            "--wait",
            writer_wait,
            "--json",
        ]);
        let wrote = writer.wait(WAIT);
        let read = reader.wait(WAIT);
        let pair = format!("reader {reader_wait}, writer {writer_wait}");
        assert_eq!(wrote.code(), Some(0), "{pair}: {wrote:?}");
        assert_eq!(read.code(), Some(0), "{pair}: {read:?}");
        let (wrote, read) = (wrote.json(), read.json());
        assert_eq!(read["frames"], 2000, "{pair}");
        assert_eq!(read["bytes"], wrote["bytes"], "{pair}");
        assert_eq!(read["sequence_errors"], 0, "{pair}");
        assert_eq!(read["pattern_errors"], 0, "{pair}");
        assert_clean(&name);
    }
}

#[test]
fn an_unknown_wait_strategy_is_a_usage_error() {
    for command in ["read", "write"] {
        let out = run(&[command, "x", "--wait", "spin"]);
        assert_eq!(out.code(), Some(2), "{command}: {out:?}");
        assert!(
            out.stderr
                .contains("expected block, busy-spin, spin-then-block"),
            "{command}: {out:?}"
        );
    }
}

#[test]
fn bad_sizes_are_usage_errors() {
    for (sizes, message) in [
        ("5..3", "need 1 <= MIN <= MAX"),
        ("0..4", "need 1 <= MIN <= MAX"),
        ("3-4", "expected MIN..MAX"),
        ("a..4", "expected MIN..MAX"),
    ] {
        let out = run(&["write", "x", "--sizes", sizes]);
        assert_eq!(out.code(), Some(2), "{sizes}: {out:?}");
        assert!(out.stderr.contains(message), "{sizes}: {out:?}");
    }
    let out = run(&["write", "x", "--size", "5", "--sizes", "1..2"]);
    assert_eq!(out.code(), Some(2), "{out:?}");
    let out = run(&["write", "x", "--size", "0"]);
    assert_eq!(out.code(), Some(2), "{out:?}");
}

#[test]
fn signals_stop_the_reader_and_remove_the_buffer() {
    let _guard = shared();
    for (signal, status) in [("INT", 130), ("TERM", 143)] {
        let name = unique_name("signal");
        let (child, _ready) = start_reader(&name, &["--timeout-ms", "60000", "--json"]);
        assert_eq!(leftovers(&name).len(), 4);
        child.signal(signal);
        let out = child.wait(WAIT);
        assert_eq!(out.code(), Some(status), "{out:?}");
        assert_eq!(out.json()["frames"], 0);
        assert_clean(&name);
    }
}

#[test]
fn clean_removes_what_a_killed_reader_left() {
    let _guard = exclusive();
    let name = unique_name("clean");
    let (mut child, _ready) = start_reader(&name, &["--timeout-ms", "60000"]);
    child.kill_and_reap();
    assert_eq!(leftovers(&name), all_objects(&name));

    let out = run(&["clean", &name]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(
        out.stdout.starts_with(&format!("{name}: removed ")),
        "{out:?}"
    );
    for path in all_objects(&name) {
        assert!(out.stdout.contains(&path), "{path} not reported: {out:?}");
    }
    assert_clean(&name);

    let out = run(&["clean", &name]);
    assert_eq!(out.stdout, format!("{name}: nothing found\n"));
}

#[test]
fn clean_leaves_a_live_buffer_alone() {
    let _guard = shared();
    let name = unique_name("cleanlive");
    let reader = Reader::create(&name, BufferConfig::new(0, 1024)).unwrap();
    let out = run(&["clean", &name]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(out.stdout.contains("in use"), "{out:?}");
    assert_eq!(leftovers(&name).len(), 4);
    drop(reader);
    assert_clean(&name);
}
