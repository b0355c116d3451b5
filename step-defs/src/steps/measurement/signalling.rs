//! 14.5: what a semaphore post/wait costs, and what signalling at a given rate costs the
//! waiting thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use rustix::time::ClockId;
use zerobuffer::NamedSemaphore;

use crate::captures::num;
use crate::drivers::bench::BENCH_READ_TIMEOUT;
use crate::drivers::explain::Explain as _;
use crate::drivers::measure::{best_ns, cpu_share, us, Summary};
use crate::drivers::os::{cpu_time, monotonic_ns};
use crate::drivers::poll::spin_until;
use crate::drivers::roles::test_subject;
use crate::drivers::scale;
use crate::drivers::tables::data_table;
use crate::state::measurement::{BenchSemaphores, Impact, RateResult, Signalling};
use crate::world::{ZbWorld, JOIN_TIMEOUT};

/// The shared feature file's rows, for an orchestrator that drops tables.
const BUILT_IN: &str = "| rate | expected_impact |
| 1Hz | negligible |
| 100Hz | negligible |
| 1kHz | negligible |
| 10kHz | negligible |
| 100kHz | measurable |";
/// "negligible": the waiting thread spends less than this share of one CPU between the first
/// and the last signal. A thread that spun instead of blocking would spend all of it; a
/// wake-up costs 3–12 µs of CPU on a loaded 2-core VM, a quarter of 10 kHz's 100 µs period.
const NEGLIGIBLE_CPU: f64 = 0.25;
/// "measurable": at least this share, well above what the CPU clock can resolve.
const MEASURABLE_CPU: f64 = 0.01;
/// Signals must arrive at no less than this share of the rate asked for, or the rate was not
/// tested.
const RATE_SHARE: f64 = 0.5;

fn parse_impact(text: &str) -> Result<Impact> {
    match text.trim().to_ascii_lowercase().as_str() {
        "negligible" => Ok(Impact::Negligible),
        "measurable" => Ok(Impact::Measurable),
        other => bail!("unknown expected impact '{other}' (negligible or measurable)"),
    }
}

#[given(regex = r"^measure sem_post/sem_wait operation cost$")]
fn measure_semaphore_cost(world: &mut ZbWorld) -> Result<()> {
    let name = world.buffer_name("test-semaphore-cost");
    let sems = BenchSemaphores::create(&name)?;
    // Uncontended: a post and the wait that takes it, in one thread.
    let n = scale::count(10_000_000, 50_000)?;
    let mut failed = false;
    let post_wait_ns = best_ns(n / 7, || {
        failed |= sems.ping.post().is_err() || !sems.ping.try_wait().unwrap_or(false);
    });
    ensure!(!failed, "a post or wait failed");
    // Across threads: half a ping-pong round trip is one wake-up.
    let trips = scale::count(1_000_000, 2_000)? as usize;
    let (ping, pong) = (Arc::clone(&sems.ping), Arc::clone(&sems.pong));
    let echo = thread::spawn(move || -> Result<()> {
        for _ in 0..trips {
            ensure!(ping.wait(BENCH_READ_TIMEOUT)?, "no ping");
            pong.post()?;
        }
        Ok(())
    });
    let mut halves = Vec::with_capacity(trips);
    for _ in 0..trips {
        let start = Instant::now();
        sems.ping.post()?;
        ensure!(sems.pong.wait(BENCH_READ_TIMEOUT)?, "no pong");
        halves.push(start.elapsed().as_nanos() as u64 / 2);
    }
    echo.join()
        .map_err(|_| anyhow!("the echo thread panicked"))??;
    let wake_up = Summary::of(halves)?;
    tracing::info!(
        post_wait_ns,
        wake_up_p50_us = us(wake_up.p50),
        wake_up_p99_us = us(wake_up.p99),
        "semaphore cost"
    );
    let state = test_subject(world)?;
    state.measurement.signalling = Signalling {
        semaphores: Some(sems),
        post_wait_ns,
        wake_up: Some(wake_up),
        rates: Vec::new(),
    };
    Ok(())
}

/// A rate like `100`, `100 Hz`, `1 kHz`, `10KHz`.
fn parse_rate(text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_lowercase().replace(' ', "");
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num(digits)?;
    let hz = match unit {
        "" | "hz" | "/s" => n,
        "khz" => n * 1_000,
        _ => bail!("'{text}' is not a rate"),
    };
    ensure!(hz > 0, "a rate of 0 Hz sends nothing");
    Ok(hz)
}

#[when(regex = r"^test at rates:$")]
fn test_at_rates(world: &mut ZbWorld, step: &Step) -> Result<()> {
    let table = data_table(world, step, BUILT_IN)?;
    let rate = table.column("rate")?;
    let impact = table.column("expected_impact").ok();
    let rows = table.map_rows(|r| {
        Ok((
            parse_rate(&r[rate])?,
            impact.map(|c| parse_impact(&r[c])).transpose()?,
        ))
    })?;
    ensure!(!rows.is_empty(), "the table lists no rate");
    let state = test_subject(world)?;
    let sems = state
        .measurement
        .signalling
        .semaphores
        .as_ref()
        .context("no semaphores were set up by the cost measurement")?;
    let signal = Arc::clone(&sems.ping);
    let mut results = Vec::new();
    for (rate, impact) in rows {
        // Ten seconds of signals, scaled, and at least a few periods.
        let floor = (rate / 10).clamp(3, 50);
        let signals = scale::count(rate * 10, floor)? as usize;
        let mut r = at_rate(&signal, rate, signals).with_context(|| format!("at {rate} Hz"))?;
        r.impact = impact;
        results.push(r);
    }
    state.measurement.signalling.rates = results;
    Ok(())
}

/// Posts `signals` times at `rate` Hz to a waiting thread; measures wake-up latency, and CPU
/// from the first signal to the last (thread start-up is not signalling).
fn at_rate(sem: &Arc<NamedSemaphore>, rate: u64, signals: usize) -> Result<RateResult> {
    let stamps: Arc<Vec<AtomicU64>> = Arc::new((0..signals).map(|_| AtomicU64::new(0)).collect());
    let waiting = Arc::clone(sem);
    let seen = Arc::clone(&stamps);
    let ready = Arc::new(AtomicBool::new(false));
    let started = Arc::clone(&ready);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let waiter = thread::spawn(move || -> Result<(Vec<u64>, Duration)> {
        started.store(true, Ordering::SeqCst);
        let mut latencies = Vec::with_capacity(signals);
        let mut first_cpu = None;
        for stamp in seen.iter() {
            ensure!(
                waiting.wait(interval + BENCH_READ_TIMEOUT)?,
                "signal {} of {signals} never arrived",
                latencies.len() + 1
            );
            latencies.push(monotonic_ns().saturating_sub(stamp.load(Ordering::Acquire)));
            first_cpu.get_or_insert_with(|| cpu_time(ClockId::ThreadCPUTime));
        }
        let first = first_cpu.unwrap_or_default();
        Ok((latencies, cpu_time(ClockId::ThreadCPUTime) - first))
    });
    spin_until(Instant::now() + JOIN_TIMEOUT, "the waiter", || {
        ready.load(Ordering::SeqCst)
    })?;
    let mut first = None;
    let mut signaller_cpu0 = Duration::ZERO;
    let start = Instant::now();
    for (i, stamp) in stamps.iter().enumerate() {
        let due = start + interval * i as u32;
        // Sleep through long gaps, spin through the last stretch for precise pacing.
        while let Some(left) = due.checked_duration_since(Instant::now()) {
            match left > Duration::from_micros(200) {
                true => thread::sleep(left - Duration::from_micros(100)),
                false => std::hint::spin_loop(),
            }
        }
        stamp.store(monotonic_ns(), Ordering::Release);
        sem.post()?;
        if first.is_none() {
            first = Some(Instant::now());
            signaller_cpu0 = cpu_time(ClockId::ThreadCPUTime);
        }
    }
    let first = first.context("no signal was sent")?;
    let sent = first.elapsed();
    let signaller_cpu = cpu_time(ClockId::ThreadCPUTime) - signaller_cpu0;
    let (latencies, waiter_cpu) = waiter
        .join()
        .map_err(|_| anyhow!("the waiting thread panicked"))??;
    Ok(RateResult {
        rate,
        impact: None,
        signals,
        achieved_hz: (signals - 1) as f64 / sent.as_secs_f64().max(1e-9),
        latency: Summary::of(latencies)?,
        waiter_cpu: cpu_share(waiter_cpu, sent),
        signaller_cpu: cpu_share(signaller_cpu, sent),
    })
}

#[then(regex = r"^report CPU usage and latency impact$")]
fn report_signalling(world: &mut ZbWorld) -> Result<()> {
    let s = &mut test_subject(world)?.measurement.signalling;
    ensure!(s.post_wait_ns > 0.0, "no post/wait cost was measured");
    let wake_up = s.wake_up.context("no wake-up latency was measured")?;
    wake_up.check_ordered("wake-up")?;
    ensure!(!s.rates.is_empty(), "no rates were tested");
    for r in &s.rates {
        tracing::info!(
            rate_hz = r.rate,
            achieved_hz = r.achieved_hz,
            signals = r.signals,
            latency_p50_us = us(r.latency.p50),
            latency_max_us = us(r.latency.max),
            waiter_cpu_pct = 100.0 * r.waiter_cpu,
            signaller_cpu_pct = 100.0 * r.signaller_cpu,
            expected = ?r.impact,
            "signalling at rate"
        );
        ensure!(
            r.latency.count == r.signals,
            "{} Hz: {} of {} signals arrived",
            r.rate,
            r.latency.count,
            r.signals
        );
        r.latency.check_ordered(&format!("{} Hz", r.rate))?;
        ensure!(
            r.achieved_hz >= RATE_SHARE * r.rate as f64,
            "{} Hz: the signals went out at {:.0} Hz only",
            r.rate,
            r.achieved_hz
        );
        ensure!(
            r.waiter_cpu <= 1.05 && r.signaller_cpu <= 1.05,
            "{} Hz: CPU shares above 100%: {r:?}",
            r.rate
        );
        match r.impact {
            Some(Impact::Negligible) => ensure!(
                r.waiter_cpu < NEGLIGIBLE_CPU,
                "{} Hz: the waiting thread used {:.1}% of a CPU, not the negligible share \
                 (below {:.0}%) the table expects",
                r.rate,
                100.0 * r.waiter_cpu,
                100.0 * NEGLIGIBLE_CPU
            ),
            Some(Impact::Measurable) => ensure!(
                r.waiter_cpu >= MEASURABLE_CPU,
                "{} Hz: the waiting thread used {:.2}% of a CPU, less than the {:.0}% that \
                 makes the impact measurable as the table expects",
                r.rate,
                100.0 * r.waiter_cpu,
                100.0 * MEASURABLE_CPU
            ),
            None => {}
        }
    }
    Ok(())
}
