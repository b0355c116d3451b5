Feature: Performance monitoring
  A process blocked on a buffer's semaphore uses next to no CPU, and streaming frames costs
  CPU in proportion to the bytes copied. CPU time is the writer thread's own; the limits are
  wide so a busy machine cannot make them flaky.

  Background:
    Given the test environment is initialized
    And all processes are ready

  Scenario: Test 9.1 - CPU Usage Monitoring
    # The measuring steps name no process: they go to the writer, as Harmony routes them. The
    # writer fills the ring and measures a write blocked on sem-r for 1 s, then streams 2000
    # frames of 1 KiB. Nothing in the vocabulary makes the reader consume; in a local run the
    # transfer step drains the reader of this World in the background.
    Given the 'reader' process creates buffer 'test-cpu' with default config
    When the 'writer' process connects to buffer 'test-cpu'
    Then monitor CPU usage during idle (blocked on semaphore)
    And verify near-zero CPU when waiting
    When transfer data actively
    Then monitor CPU during active transfer
    And verify efficient data copying
