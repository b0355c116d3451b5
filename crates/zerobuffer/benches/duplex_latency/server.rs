//! The server process: an echo duplex server plus the `ping` → `pong` answering loop.

use std::env;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use zerobuffer::{BufferConfig, DuplexServer, NamedSemaphore, ProcessingMode, WaitStrategy};

use crate::{
    cores, BoxResult, CHANNEL_ENV, METADATA, PING_ENV, PONG_ENV, REQUEST_RING, SLICE, WAIT_ENV,
};

pub fn server_process() -> BoxResult<()> {
    // Before any thread starts: the threads below inherit the CPU.
    cores::pin_child_from_env()?;
    let channel = env::var(CHANNEL_ENV)?;
    let wait: WaitStrategy = env::var(WAIT_ENV)?.parse()?;
    let ping = NamedSemaphore::open(&env::var(PING_ENV)?)?;
    let pong = NamedSemaphore::open(&env::var(PONG_ENV)?)?;

    // The parent holds the other end of stdin; EOF (or an error) means it is done or gone.
    let quit = Arc::new(AtomicBool::new(false));
    {
        let quit = Arc::clone(&quit);
        thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                let mut stdin = io::stdin();
                let mut buf = [0u8; 64];
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
                quit.store(true, Ordering::SeqCst);
            })?;
    }

    let mut server = DuplexServer::new(&channel, BufferConfig::new(METADATA, REQUEST_RING))?
        .with_wait_strategy(wait);
    server.start_zero_copy(ProcessingMode::SingleThread, |request, responder| {
        let mut slot = responder.slot(request.len())?;
        slot.copy_from_slice(request);
        slot.commit();
        Ok(())
    })?;
    pong.post()?; // ready: the request buffer exists and both semaphores are open

    let served = (|| -> BoxResult<()> {
        while !quit.load(Ordering::SeqCst) {
            if ping.wait(SLICE)? {
                pong.post()?;
            } else if !server.is_running() {
                return Err("the duplex server stopped on its own".into());
            }
        }
        Ok(())
    })();
    let stopped = server.stop();
    for e in server.take_errors() {
        // A client leaving is routine; anything else is worth seeing.
        if !matches!(
            e,
            zerobuffer::Error::WriterDead | zerobuffer::Error::ReaderDead
        ) {
            eprintln!("duplex_latency server: {e}");
        }
    }
    served?;
    stopped?;
    Ok(())
}
