//! Test 1.1 across languages: a Rust serve opposite the PyPI Python serve
//! (`python -m zerobuffer_serve`), in both roles, driven over the wire like Harmony drives
//! them. The two meet on the same shared memory through HARMONY_HOST_PID/HARMONY_FEATURE_ID.

mod common;

use common::driver::{self, features_dir, Platform, RunOptions};

fn test_1_1(reader: Platform, writer: Platform) {
    let plan = driver::plan(&features_dir().join("01-BasicCommunication.feature"), "1.1");
    let platforms = [("reader", reader), ("writer", writer)];
    if let Err(e) = driver::run(&plan, &platforms, &RunOptions::default()) {
        panic!("{e}");
    }
}

#[test]
fn test_1_1_rust_reader_python_writer() {
    let Some(python) = common::python_serve() else {
        return;
    };
    test_1_1(Platform::Rust, Platform::Python(python));
}

#[test]
fn test_1_1_python_reader_rust_writer() {
    let Some(python) = common::python_serve() else {
        return;
    };
    test_1_1(Platform::Python(python), Platform::Rust);
}
