//! Crashes simulated in-process: endpoints are abandoned ([`zerobuffer::Abandon`]) and the
//! PID of a process that is gone goes where theirs was, which is what a killed process leaves
//! behind. (Under an orchestrator real processes are killed instead.)

#![allow(
    unsafe_code,
    reason = "writes a dead PID into a live segment, as a killed process leaves it"
)]

use anyhow::Result;
use zerobuffer::duplex::{request_buffer_name, response_buffer_name};
use zerobuffer::layout::oieb::{READER_PID, WRITER_PID};
use zerobuffer_test_support::RawBuffer;

use crate::drivers::explain::Explain as _;

fn mark(buffer: &str, field: usize, dead: u64) -> Result<()> {
    let raw = RawBuffer::open(buffer)
        .with_context(|| format!("mapping '{buffer}' to mark its endpoint dead"))?;
    // SAFETY: a PID word of the OIEB, which no reference of this process covers: the library
    // reads the OIEB only through atomics during its calls, and the endpoint is abandoned.
    unsafe { raw.write_u64(field, dead) };
    Ok(())
}

/// Puts `dead` as the reader PID of `buffer`.
pub fn mark_reader_dead(buffer: &str, dead: u64) -> Result<()> {
    mark(buffer, READER_PID, dead)
}

/// Puts `dead` as the writer PID of `buffer`.
pub fn mark_writer_dead(buffer: &str, dead: u64) -> Result<()> {
    mark(buffer, WRITER_PID, dead)
}

/// A duplex server's endpoints: the request buffer's reader, the response buffer's writer.
pub fn mark_server_dead(channel: &str, dead: u64) -> Result<()> {
    mark_reader_dead(&request_buffer_name(channel), dead)?;
    mark_writer_dead(&response_buffer_name(channel), dead)
}

/// A duplex client's endpoints: the request buffer's writer, the response buffer's reader.
pub fn mark_client_dead(channel: &str, dead: u64) -> Result<()> {
    mark_writer_dead(&request_buffer_name(channel), dead)?;
    mark_reader_dead(&response_buffer_name(channel), dead)
}
