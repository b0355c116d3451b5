@benchmark
Feature: Benchmarks
  Latency, throughput, wrap-around cost, barrier cost, semaphore signalling and ring
  utilisation, measured for real and reported at info level (e.g. RUST_LOG=zerobuffer_steps=info).
  Iterations and durations scale with ZEROBUFFER_SUITE_SCALE (default 0.001 of what the steps
  say; 1 runs them as written). Only what noise cannot break is asserted: data intact, every
  frame or signal arrived, percentiles ordered, CPU shares within bounds, and comparisons
  measured in the same run with wide margins. Speed targets are reported, not asserted, where
  a loaded 2-core machine would decide them.

  Background:
    Given benchmark environment is prepared

  Scenario: Test 14.1 - Latency Benchmark
    # One frame in flight at a time, stamped with the monotonic clock by the writer and timed
    # by the reader. Frames of 10 MiB need a 32 MiB ring to be writable from any position;
    # the default config's 10 KiB ring could not hold them.
    # Changed so that every step acts only on the process it is routed to (the reader may live
    # in another OS process): the measuring step starts the writer in the background and
    # returns; the reader process reads and checks every frame with its own steps; the writer
    # times each frame from its write until the OIEB shows it taken (read, checked, released),
    # and closes once all are taken, which ends the reader's stream. The writer then connects
    # again (the buffer outlives the run), which routes the report to the writer.
    Given the 'reader' process creates buffer 'test-latency' with metadata size '1024' and payload size '33554432'
    When the 'writer' process connects to buffer 'test-latency'
    Then measure latency for frame sizes:
      | size  | iterations |
      | 1KB   | 10000      |
      | 64KB  | 10000      |
      | 1MB   | 10000      |
      | 10MB  | 10000      |
    When the 'reader' process reads all frames and signals immediately
    Then all sequence numbers should be correct
    When the 'writer' process connects to buffer 'test-latency'
    Then report Min, Max, Mean, P50, P90, P99, P99.9

  Scenario: Test 14.2 - Throughput Benchmark
    # The reader checks every byte of every frame, so the rate is that of a full transfer.
    # Saturating memory bandwidth is reported as the share of a plain copy's rate measured in
    # the same run; asserted is only that no transfer beats a plain copy by far.
    # Changed so that every step acts only on the process it is routed to (the reader may live
    # in another OS process): the measuring step starts the writer in the background and
    # returns; the reader process reads and checks every frame with its own steps; a run ends
    # when the OIEB shows every frame taken, and the writer closes after the last, which ends
    # the reader's stream. The writer then connects again (the buffer outlives the run), which
    # routes the reports to the writer. The CPU reported is the writer's.
    Given the 'reader' process creates buffer 'test-throughput' with large config
    When the 'writer' process connects to buffer 'test-throughput'
    Then measure throughput for '60' seconds with frame sizes:
      | size  |
      | 1KB   |
      | 64KB  |
      | 1MB   |
      | 10MB  |
    When the 'reader' process reads all frames and signals immediately
    Then all sequence numbers should be correct
    When the 'writer' process connects to buffer 'test-throughput'
    Then report CPU usage percentage
    And expect to saturate memory bandwidth

  Scenario: Test 14.3 - Wrap-Around Overhead Benchmark
    # Frames of 64 KiB (with header) in a ring of 1.5 frames wrap every time; in a ring of
    # exactly one frame they never do, and the writer waits for the reader just as often. The
    # 5% limit is reported: two runs on a shared 2-core machine differ by more than that.
    # Asserted is a bound only a defect reaches: a wrap costing ten frames (e.g. a missed
    # wake-up that leaves the writer waiting out a 100 ms slice).
    Given buffer size is '1.5x' frame size to force wrap
    When measure performance with wrap-around
    And measure performance without wrap-around
    Then calculate overhead percentage
    And expect less than '5%' performance impact

  Scenario: Test 14.4 - Memory Barrier Cost Benchmark
    # Each cost is the best of seven runs of at least a million operations, so scheduling
    # noise cannot inflate it; a fence is a single instruction whatever else the machine does.
    Given measure atomic fence operations
    When compare with and without memory barriers
    Then verify data integrity maintained
    And expect less than '100' ns per barrier

  Scenario: Test 14.5 - Semaphore Signaling Overhead
    Given measure sem_post/sem_wait operation cost
    When test at rates:
      | rate    |
      | 1 Hz    |
      | 10 Hz   |
      | 100 Hz  |
      | 1 kHz   |
      | 10 kHz  |
      | 100 kHz |
    Then report CPU usage and latency impact

  Scenario: Test 14.6 - Buffer Utilization Under Load
    # The reader holds every frame for 2 ms while the writer writes without pause for 300 ms,
    # then stops; the fill of the ring is sampled from the OIEB every half millisecond.
    # Changed so that every step acts only on the process it is routed to (the reader may live
    # in another OS process): the monitoring step starts the writer and the sampling in the
    # background and returns; the reader process reads with 2 ms between frames (its own step)
    # until the writer, once the ring is drained, closes; its frames are checked. The writer
    # then connects again (the buffer outlives the run), which routes the checks to the writer.
    Given the 'reader' process creates buffer 'test-utilization' with default config
    And the 'writer' process connects to buffer 'test-utilization'
    And the 'writer' process is configured to be faster than reader
    When monitor buffer utilization over time
    And the 'reader' process reads frames with '2' ms delay between each read
    Then the 'reader' process should verify all frames have sequential sequence numbers starting from '1'
    And no sequence errors should have occurred
    When the 'writer' process connects to buffer 'test-utilization'
    Then verify degradation detection at '80%'
    And report time to degradation
    And report recovery time
