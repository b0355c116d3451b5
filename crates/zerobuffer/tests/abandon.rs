//! Abandoned endpoints leave what a killed process leaves: their PID and their objects.

use zerobuffer::{current_pid, inspect, Abandon, BufferConfig, Error, ObjectPaths, Reader, Writer};
use zerobuffer_test_support::{assert_clean, unique_name};

#[test]
fn an_abandoned_writer_keeps_its_claim_until_the_reader_judges_it() {
    let name = unique_name("abandon-writer");
    {
        let reader = Reader::create(&name, BufferConfig::new(0, 4096)).unwrap();
        let mut writer = Writer::connect(&name).unwrap();
        writer.write_frame(b"before").unwrap();
        writer.abandon().unwrap();
        // No goodbye: the OIEB still names this (live) process as the writer.
        assert_eq!(inspect(&name).unwrap().oieb.writer_pid, current_pid());
        assert!(matches!(
            Writer::connect(&name),
            Err(Error::WriterAlreadyConnected { .. })
        ));
        assert_eq!(
            &*reader
                .read_frame(std::time::Duration::from_secs(1))
                .unwrap(),
            b"before"
        );
    }
    assert_clean(&name);
}

#[test]
fn an_abandoned_reader_leaves_its_objects_and_its_pid() {
    let name = unique_name("abandon-reader");
    Reader::create(&name, BufferConfig::new(0, 4096))
        .unwrap()
        .abandon()
        .unwrap();
    let info = inspect(&name).unwrap();
    assert_eq!(info.oieb.reader_pid, current_pid());
    let paths = ObjectPaths::new(&name);
    for path in paths.all() {
        assert!(path.exists(), "{} was removed", path.display());
        std::fs::remove_file(path).unwrap();
    }
    assert_clean(&name);
}
