Feature: Performance monitoring
  A process blocked on a buffer's semaphore uses next to no CPU, and streaming frames costs
  CPU in proportion to the bytes copied. CPU time is the writer thread's own; the limits are
  wide so a busy machine cannot make them flaky.

  Background:
    Given the test environment is initialized
    And all processes are ready

  Scenario: Test 9.1 - CPU Usage Monitoring
    # The measuring steps name no process: they go to the writer, as Harmony routes them. The
    # writer fills the ring with counter frames and measures a write blocked on sem-r for 1 s,
    # then streams counter frames in the background until 2000 are written.
    # Changed so that every step acts only on the process it is routed to (the reader may live
    # in another OS process): the reader process now consumes and checks the 2000 frames with
    # its own steps (1 ms per frame, so the run cannot end before it is limited), and the
    # writer, named again by "should write successfully immediately" (the drained ring has
    # room), then joins and measures the transfer.
    Given the 'reader' process creates buffer 'test-cpu' with default config
    When the 'writer' process connects to buffer 'test-cpu'
    Then monitor CPU usage during idle (blocked on semaphore)
    And verify near-zero CPU when waiting
    When transfer data actively
    And the 'reader' process reads with '1' ms delay per frame
    And the 'reader' process the test runs for '2000' frames
    Then the 'reader' process should receive all frames without loss
    And the 'writer' process should write successfully immediately
    And monitor CPU during active transfer
    And verify efficient data copying
