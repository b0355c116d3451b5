Feature: Edge cases of frame sizes, wrap-around and flow control
  Frames at the limits of the ring (exact fit, minimum size, frames that must wrap), signals
  that pile up before the reader wakes, a reader slower than its writer, and the rejections a
  full or missing buffer must give. A write that has to wait for space runs in the background;
  the steps that check it read the OIEB in shared memory.

  Background:

  Scenario: Test 4.1 - Alternating Frame Sizes
    # 9200 + 1 bytes leave 1007 bytes at the end; the second 9200-byte frame must wrap, so it
    # waits for the tail plus itself (10223 bytes), which only the reader can free. Nobody reads
    # here: the writer's checks judge the waiting write itself. It needs no more than the ring
    # holds, the reader is alive and has been signalled every frame it has not read, and the
    # write keeps trying: a wait the reader can end, not a deadlock.
    Given the 'reader' process creates buffer 'test-alternating' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-alternating'
    And the 'writer' process writes large frame using '90%' of buffer
    And the 'writer' process writes small frame of '1' byte
    And the 'writer' process attempts to write large frame again
    Then the 'writer' process proper wrap-around handling should occur
    And the 'writer' process no deadlocks should happen

  Scenario: Test 4.2 - Semaphore Signal Coalescing
    Given the 'reader' process creates buffer 'test-coalesce' with default config
    When the 'writer' process connects to buffer 'test-coalesce'
    And the 'writer' process writes '10' frames rapidly without reader consuming
    Then the 'writer' process the semaphore count should represent pending frames
    When the 'reader' process wakes and processes all frames
    Then the 'reader' process all frames should be read correctly
    And the 'reader' process the coalesced signals should be handled properly

  Scenario: Test 4.3 - Zero-Sized Metadata Block
    Given the 'reader' process creates buffer 'test-zero-metadata' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-zero-metadata'
    And the 'writer' process attempts to write metadata
    Then the 'writer' process metadata write should fail appropriately
    When the 'writer' process writes frame without metadata
    Then the 'writer' process should verify frame write succeeded
    And the 'reader' process should verify system works correctly without metadata

  Scenario: Test 4.4 - Minimum Buffer Sizes
    # 64 bytes of ring: a 1-byte frame takes 17, a 49-byte frame would need 65.
    Given the 'reader' process creates buffer 'test-minimum' with minimum viable size '64'
    When the 'writer' process connects to buffer 'test-minimum'
    And the 'writer' process writes single byte frame
    Then the 'writer' process should verify write succeeded
    When the 'writer' process attempts to write '49' byte frame
    Then the 'writer' process should receive FrameTooLargeException

  Scenario: Test 4.5 - Reader Slower Than Writer
    # About 8 counter frames of 100 bytes fit in the 1 KiB ring. Blocking is judged by cause,
    # not by time: a write waited when a single attempt found no space for it.
    Given the 'reader' process creates buffer 'test-slow-reader' with metadata size '0' and payload size '1024'
    When the 'writer' process connects to buffer 'test-slow-reader'
    And the 'writer' process writes continuously at high speed
    And the 'reader' process reads with '50' ms delay per frame
    And the 'reader' process the test runs for '100' frames
    Then the 'reader' process should receive all frames without loss
    And the 'writer' process should block appropriately
    And the 'writer' process flow control should work correctly

  Scenario: Test 4.6 - Exact Buffer Fit
    Given the 'reader' process creates buffer 'test-exact-fit' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-exact-fit'
    And the 'writer' process writes frame with exact size '10224'
    Then buffer should be completely full
    And no more writes should be possible
    When the 'reader' process reads frame
    Then the frame should have size '10224'
    When the 'reader' process signals space available
    Then the 'writer' process should be able to write again

  Scenario: Test 4.7 - Minimum Frame Size
    # The overhead is judged by the reader, on the frame it just read: releasing it gave back
    # 17 ring bytes for 1 byte of data.
    Given the 'reader' process creates buffer 'test-min-frame' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-min-frame'
    And the 'writer' process attempts to write frame with size '0'
    Then the 'writer' process should fail with zero size error
    When the 'writer' process writes frame with size '1'
    Then the 'reader' process should read frame with size '1'
    And frame overhead should be '16' bytes

  @diverges
  Scenario: Test 4.8 - Wrap-Around Behavior
    # Diverges: the shared scenario writes and consumes 6144 bytes, then expects a 7168-byte
    # frame to wait and wrap. It never can: 4080 bytes to the end plus 7184 for the frame
    # exceed the 10240-byte ring (protocol.md §3.3, §12.17), so the writer reports
    # FrameTooLarge at once. Here the second frame does not fit before the end (4096 bytes
    # left) but fits at the start, and the first is still unread: the write waits in the
    # background until the reader frees the ring, then lands at offset 0 behind a wrap marker.
    Given the 'reader' process creates buffer 'test-wrap' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-wrap'
    And the 'writer' process writes large frame using '60%' of buffer
    And the 'writer' process attempts to write large frame again
    Then the 'writer' process should wait for space
    And the 'reader' process should read frame with size '6128'
    When the 'reader' process signals space available
    Then the 'writer' process should complete write at buffer start
    And the 'reader' process should read frame with size '6128'

  Scenario: Test 4.9 - Rapid Write-Read Cycles
    Given the 'reader' process creates buffer 'test-rapid-cycles' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-rapid-cycles'
    And the 'writer' process writes '10000' frames of size '1024' rapidly
    And the 'reader' process reads all frames and signals immediately
    Then all sequence numbers should be correct
    And no frames should be lost
    And no deadlocks should occur

  Scenario: Test 4.10 - Buffer Full With Multiple Writers Rejected
    # Filling on past 100% means the next frame waits for the reader, which never reads here:
    # the write is still waiting when the scenario ends.
    Given the 'reader' process creates buffer 'test-multi-writer-full' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-multi-writer-full'
    And the 'writer' process fills buffer to '80%' capacity
    And the 'writer' process a second writer process attempts to connect to buffer 'test-multi-writer-full'
    Then the 'writer' process the second writer should fail with writer exists error
    When the 'writer' process continues filling buffer to '100%'
    Then the 'writer' process should block waiting for space

  Scenario: Test 4.11 - Concurrent Initialization Race
    # No process name Harmony recognises: never generated there. In-process the two would-be
    # readers are threads racing for the same name.
    Given two 'reader' processes
    When both simultaneously attempt to create buffer 'race-test'
    Then only one should succeed
    And other should receive appropriate error
    And no resource corruption should occur

  Scenario: Test 4.12 - Writer Before Reader
    # Not generated under Harmony either; runs in-process.
    Given the system is ready
    When a 'writer' process attempts to connect to non-existent buffer 'no-reader-yet'
    Then the connection should fail with appropriate error
    And error should indicate no shared memory found
