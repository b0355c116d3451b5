Feature: Corruption detection
  Damaged control blocks and frame headers are refused, a writer learns that its reader died,
  wrap-around wastes the tail and accounts for it, the continuous free space follows the
  protocol's formula, and the largest frame is the payload size minus the 16-byte header.

  Background:
    Given the test environment is initialized
    And all processes are ready

  Scenario: Test 5.1 - Corrupted OIEB Detection
    Given the 'reader' process creates buffer 'test-corrupt-oieb' with default config
    When the 'writer' process connects to buffer 'test-corrupt-oieb'
    And the 'writer' process writes frame with data 'valid'
    # 'operation_size' is the first OIEB field's name in an obsolete table of the upstream
    # README: oieb_size, which must be 128 and which every writer checks when it connects.
    And the test corrupts OIEB field 'operation_size' to wrong value
    And a second 'writer' process attempts to connect to buffer 'test-corrupt-oieb'
    Then the connection should fail with invalid OIEB error

  Scenario: Test 5.2 - Invalid Frame Header Detection
    Given the 'reader' process creates buffer 'test-corrupt-header' with default config
    When the 'writer' process connects to buffer 'test-corrupt-header'
    And the 'writer' process writes frame with data 'valid'
    And the test corrupts frame header 'payload_size' to '0'
    And the 'reader' process attempts to read frame
    Then the read should fail with invalid frame size error

  Scenario: Test 5.3 - Reader Death During Write
    # Writers check the reader's PID only while they wait for space: the commit succeeds, and
    # the next write, which cannot fit beside the unread 8 KiB frame, finds the reader dead.
    Given the 'reader' process creates buffer 'test-reader-death' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-reader-death'
    And the 'writer' process starts writing large frame of '8192' bytes
    And the 'reader' process crashes while write in progress
    And the 'writer' process completes write operation
    And the 'writer' process attempts next operation
    Then the 'writer' process should detect reader death
    And the 'writer' process should throw reader dead exception

  @diverges
  Scenario: Test 5.5 - Wrap-Around With Wasted Space
    # Diverges: one reader step more. The first frame leaves 100 bytes, so the 200-byte frame
    # needs those 100 wasted bytes plus 216 for itself, and only 100 are free until the reader
    # releases the first frame. The shared scenario has no reader step before the writer's
    # checks, so its wrap can never happen; here the write runs in the background and the
    # reader takes the first frame before the writer's checks.
    Given the 'reader' process creates buffer 'test-wrap-waste' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-wrap-waste'
    And writes frame that leaves '100' bytes at end with 'incremental' pattern
    And attempts to write '200' byte frame with 'sequential' pattern
    And the 'reader' process reads one frame
    Then the 'writer' process should write wrap marker at current position
    And should see payload_free_bytes reduced by wasted space
    And frame should be written at buffer start
    When the 'reader' process reads next frame
    Then the 'reader' process should detect wrap marker
    And should jump to buffer start
    And should read '200' byte frame successfully with 'sequential' pattern

  @diverges
  Scenario: Test 5.6 - Continuous Free Space Calculation
    # Diverges: the shared positions with the values the formula must give written out, and one
    # row more, where the space before the reader (3072) is larger than the tail (2048). Each
    # row is set up on a real 10240-byte ring; the formula of protocol.md 3.7 is compared with
    # the value here, with the free run found by walking the unread frames, and with the
    # largest frame the writer accepts without waiting.
    Given the 'reader' process creates buffer 'test-free-space' with specific configuration
    When the system tests continuous_free_bytes calculation with:
      | write_pos | read_pos | continuous_free_bytes |
      | 5000      | 2000     | 5240                  |
      | 2000      | 5000     | 3000                  |
      | 5000      | 5000     | 5240                  |
      | 0         | 0        | 10240                 |
      | 5000      | 0        | 5240                  |
      | 8192      | 3072     | 3072                  |
    Then the 'reader' process calculations should match specification

  Scenario: Test 5.7 - Maximum Frame Size
    # 100 MiB of shared memory; the frame is filled in place, so no copy of it is allocated.
    Given the 'reader' process creates buffer 'test-max-frame' with metadata size '0' and payload size '104857600'
    When the 'writer' process connects to buffer 'test-max-frame'
    And writes frame matching exactly payload size minus header
    Then the 'writer' process should verify frame was written successfully
    When the 'writer' process attempts to write frame exceeding payload size
    Then the 'writer' process write should be rejected with appropriate error
