Feature: System resources
  A buffer whose creation fails halfway leaves nothing behind, an exhausted resource is
  reported as a clear system error, a multi-field structure published through the ring is
  seen complete, and frames of every size up to 10 MiB arrive byte for byte.

  Background:
    Given the test environment is initialized
    And all processes are ready

  Scenario: Test 7.1 - Partial Initialization Failure
    # The library's test hook makes the creation fail right before sem-w is created, when the
    # lock file and the segment already exist; /dev/shm is watched to see the segment come and go.
    Given attempt to create buffer 'test-partial' with default config
    And the test simulates semaphore creation failure
    Then the buffer creation should fail
    And the shared memory should be cleaned up
    And no resources should be leaked

  @diverges
  Scenario: Test 7.2 - System Resource Exhaustion
    # Diverges: one step more, the last: a failed creation must not leave its lock file or
    # anything else behind.
    # Exhausting the host's shared-memory limits would disturb everything else on the machine.
    # Instead this process's descriptor limit (RLIMIT_NOFILE) is lowered until one descriptor is
    # left: the new buffer's lock file takes it and creating the segment fails with EMFILE. The
    # limit is restored right after the attempt.
    Given create maximum allowed shared memory segments
    When attempt to create one more buffer 'test-exhaustion'
    Then the creation should fail with system error
    And an appropriate error message should be returned
    And no resources should be leaked

  Scenario: Test 7.3 - Memory Barrier Verification
    # The structure: little-endian fields with the frame's sequence number at both ends and an
    # FNV-1a checksum last, filled in place field by field before the commit.
    Given the 'reader' process creates buffer 'test-barrier' with default config
    When the 'writer' process connects to buffer 'test-barrier'
    And the 'writer' process writes complex structure with multiple fields
    And the system ensures memory barriers are in place
    Then the 'reader' process should read structure after semaphore signal
    And all fields should be fully visible
    And no partially visible writes should occur

  @diverges
  Scenario: Test 7.4 - Pattern Validation
    # Diverges in the buffer: the shared scenario creates it "with default config" (1 KiB
    # metadata, 10 KiB payload), where the 1 MiB and 10 MiB frames can never fit; a 16 MiB
    # payload holds all four frames at once. The reader's check knows the four sizes and takes
    # exactly those frames, in order.
    Given the 'reader' process creates buffer 'test-pattern' with metadata size '1024' and payload size '16777216'
    When the 'writer' process connects to buffer 'test-pattern'
    And the 'writer' process writes frame with size '1' using incrementing pattern
    And the 'writer' process writes frame with size '1024' using incrementing pattern
    And the 'writer' process writes frame with size '1048576' using incrementing pattern
    And the 'writer' process writes frame with size '10485760' using incrementing pattern
    Then the 'reader' process should validate each byte matches expected pattern
    And no data corruption should be detected
