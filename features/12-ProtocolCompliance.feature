Feature: Protocol compliance
  The bytes in shared memory follow protocol v1.0.0 exactly: the OIEB after every write and
  read (protocol.md §2-§3), the block layout and alignment (§1.3), the reader's lock file
  (§5.1) and the semaphore names (§4.1). The checks map the segment independently of the
  reader and writer ("DEBUG mode": the library's testing hooks).

  Background:
    Given the test environment is initialized
    And all processes are ready
    And we are in DEBUG mode for protocol compliance tests

  @diverges
  Scenario: Test 12.1 - Protocol Compliance OIEB
    # Diverges: the tables check more fields than the shared ones (the other side's position
    # and count, the writer's PID, the frame header, sem-r). Every row is checked, and a row
    # the step cannot check fails it. The frames written here all take multiples of 64 bytes
    # (v1 does not pad frames, 12.2), so every size and position stays 64-byte aligned; nothing
    # is read while they are written, so none of them wraps.
    Given the 'reader' process creates buffer 'test-protocol' with default config
    When the 'writer' process connects to buffer 'test-protocol'
    And performs multiple write operations
    Then the 'writer' process should verify after each write:
      | field                 | condition                             |
      | payload_written_count | +1                                    |
      | payload_free_bytes    | -(N + 16)                             |
      | payload_write_pos     | to (offset + N + 16) mod payload size |
      | all values            | multiples of 64                       |
      | payload_read_pos      | unchanged                             |
      | payload_read_count    | unchanged                             |
      | writer_pid            | the writer's PID                      |
      | frame_header          | {N, sequence} at the frame offset     |
    When the 'reader' process performs multiple read operations
    Then the 'reader' process should verify after each read:
      | field                 | condition                             |
      | payload_read_count    | +1                                    |
      | payload_free_bytes    | +(N + 16) at its release              |
      | payload_read_pos      | to (offset + N + 16) mod payload size |
      | sem-r                 | posted once at release                |
      | payload_written_count | unchanged                             |
      | payload_write_pos     | unchanged                             |

  @diverges
  Scenario: Test 12.2 - Memory Alignment Verification
    # Diverges: other sizes, a metadata write, and the reader's checks after the writer's, so
    # they see metadata and frames in place. The sizes are not multiples of 64 (metadata
    # 100 -> 128, payload 10000 -> 10048), so the rounding is what keeps the blocks aligned;
    # the default config's sizes are already multiples of 64. Frame headers of a v1 ring are NOT 8-byte aligned in general (no
    # padding, protocol.md §3.1): the alignment check demands aligned OIEB words and exact,
    # unpadded frame placement that reads back intact at unaligned offsets.
    Given the 'reader' process creates buffer 'test-alignment' with metadata size '100' and payload size '10000'
    When the 'writer' process connects to buffer 'test-alignment'
    And the 'writer' process writes metadata with size '50'
    And writes various sized frames
    Then the 'writer' process should verify all data access respects alignment
    And the 'reader' process should verify OIEB starts at 64-byte aligned address
    And should verify metadata block starts at 64-byte aligned offset
    And should verify payload block starts at 64-byte aligned offset

  Scenario: Test 12.3 - Lock File Semantics
    # "kill reader process" is not intercepted by Harmony: the reader dies abruptly in its own
    # process (objects left in place, dead PID, flock dropped by the kernel). Any reader created
    # meanwhile, in any process (a parallel scenario), scans for stale locks and may remove
    # that buffer first; the new reader's step then requires all of it gone, not a part.
    Given the 'reader' process creates buffer 'test-lock' with default config
    Then verify lock file exists at correct location
    And verify lock file is actually locked
    When kill reader process
    Then new reader can acquire lock after detecting stale
    When graceful shutdown
    Then verify lock file is removed

  Scenario: Test 12.4 - Semaphore Naming Convention
    Given create buffers with various names:
      | name                                                   |
      | 550e8400-e29b-41d4-a716-446655440000                   |
      | test_buffer-123                                        |
      | a_rather_long_buffer_name_for_the_naming_rules_54chars |
    Then verify semaphores created as 'sem-w-{name}' and 'sem-r-{name}'
    And verify both Linux and Windows naming rules respected
