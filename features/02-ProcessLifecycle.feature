Feature: Process lifecycle
  A reader and a writer live in separate processes. When one of them dies abruptly the other
  must notice instead of waiting forever, and a new reader can take over the buffer of a crashed
  one. Run in-process, "is killed" and "crashes" abandon that process's endpoint and leave a dead
  PID in the OIEB, exactly what a killed process leaves behind.

  Background:
    Given we run in harmony

  Scenario: Test 2.1 - Writer Crash Detection
    Given the 'reader' process creates buffer 'test-writer-crash' with metadata size '1024' and payload size '10240'
    And the 'writer' process connects to buffer 'test-writer-crash'
    And the 'writer' process writes frame with data 'alive'
    Then the 'reader' process should read frame with data 'alive'
    When the 'writer' process is killed
    Then wait for '2' seconds
    And the 'reader' process should timeout or detect writer death on next read

  Scenario: Test 2.2 - Reader Crash Detection
    # A writer judges the reader's PID while it waits for space, so the buffer is filled (with
    # the reader still alive) before the crash: the writes afterwards must wait, and report the
    # reader dead instead of timing out.
    Given the 'reader' process creates buffer 'test-reader-crash' with metadata size '1024' and payload size '10240'
    And the 'writer' process connects to buffer 'test-reader-crash'
    And the 'writer' process writes frame with sequence '1'
    Then the 'reader' process should read frame with sequence '1'
    When the 'writer' process fills buffer completely
    And the 'reader' process crashes
    Then wait for '2' seconds
    And the 'writer' process should detect reader death on next write

  Scenario: Test 2.3 - Reader Replacement After Crash
    # The 'reader' steps after the crash need the role to come back: in-process the 'reader'
    # process takes the new reader; our harmony starts a fresh 'reader' serve when the next
    # step is routed to it (upstream Harmony does not restart a crashed role, so there this
    # scenario cannot pass cross-process). The new reader finds the dead reader's segment, semaphores
    # and abandoned lock file, replaces them, and tells the attached writer (reader_pid 0 in the
    # old segment) that its reader is gone; the writer then reconnects and starts again at 1.
    Given the 'reader' process creates buffer 'test-reader-replace' with metadata size '1024' and payload size '10240'
    And the 'writer' process connects to buffer 'test-reader-replace'
    And the 'writer' process writes frame with sequence '1'
    Then the 'reader' process should read frame with sequence '1'
    When the 'reader' process crashes
    And a new 'reader' process attempts to create buffer 'test-reader-replace' with metadata size '1024' and payload size '10240'
    Then the new reader should detect stale resources
    And the new reader should clean up stale resources
    And the new reader should create fresh buffer successfully
    When the 'writer' process detects reader death and reconnects to buffer 'test-reader-replace'
    And the 'writer' process writes frame with sequence '1'
    Then the 'reader' process should read frame with sequence '1'

  Scenario: Test 2.4 - Multiple Writer Rejection
    # "a second 'writer' process" is not a process name Harmony extracts: the attempt runs in
    # the 'writer' process named before it, next to the writer already connected.
    Given the 'reader' process creates buffer 'test-multi-writer' with metadata size '1024' and payload size '10240'
    And the 'writer' process connects to buffer 'test-multi-writer'
    When a second 'writer' process attempts to connect to buffer 'test-multi-writer'
    Then the connection should fail with writer exists error
