Feature: Advanced error handling
  Failures in the middle of creating a buffer, corrupt frame headers, a peer dying during a
  write or while the other side waits, exhausted resources and missing permissions each end
  in a clear, typed error, and nothing is left behind.

  Background:
    Given the test environment is initialized
    And all processes are ready

  Scenario: Test 10.1 - Partial Initialization Failures
    # The library's test hook fails the creation right before sem-w, after the lock file and
    # the segment exist. /dev/shm is watched from the first step on, so the segment is seen to
    # be created and removed again.
    Given the test creates shared memory successfully for 'test-partial-init'
    When simulate failure creating sem-w semaphore
    Then the 'reader' process should clean up shared memory
    And the 'reader' process should throw appropriate exception
    And the test should verify no resources leaked

  @diverges
  Scenario: Test 10.2 - Invalid Frame Header Variations
    # Diverges: one row more (a payload_size larger than the whole ring, the reader's other
    # size check), and each row names the exact error instead of a reaction.
    # The table step reaches the writer under Harmony; it runs every row on a fresh buffer of
    # its own, since a reader that met a corrupt header cannot go on. The v1 frame header has
    # no magic field: a corrupted magic is a header of garbage, caught by the sequence check.
    Given the 'reader' process creates buffer 'test-header-variations' with default config
    When the 'writer' process connects to buffer 'test-header-variations'
    And the 'writer' process writes valid frame
    Then test multiple corruption scenarios:
      | corruption                     | expected reader error |
      | payload_size beyond the ring   | invalid frame header  |
      | payload_size past the ring end | invalid frame header  |
      | sequence number skipped        | sequence error        |
      | garbage header                 | sequence error        |

  Scenario: Test 10.3 - Reader Death During Active Write
    # The 8 KiB frame is reserved and filled but not committed when the reader dies. The write
    # in progress then completes (a commit does not look at the reader); the next 8 KiB write
    # needs space only the reader could free, so it detects the dead reader.
    Given the 'reader' process creates buffer 'test-active-write' with metadata size '0' and payload size '10240'
    When the 'writer' process connects to buffer 'test-active-write'
    And the 'writer' process starts writing large frame '8192' bytes
    And the 'reader' process is killed while write in progress
    And the 'writer' process detects reader death on next operation
    Then the 'writer' process should throw reader dead exception

  Scenario: Test 10.4 - Writer Death During Read
    # The read is blocked on sem-w in the background before the writer crashes; it waits its
    # 5 s and then finds the writer's PID dead.
    Given the 'reader' process creates buffer 'test-writer-death' with default config
    When the 'writer' process connects to buffer 'test-writer-death'
    And the 'reader' process waits on semaphore for data
    And the 'writer' process crashes while reader blocked
    Then the 'reader' process should detect writer death after timeout '5' seconds
    And the 'reader' process should throw writer dead exception

  Scenario: Test 10.5 - System Resource Exhaustion
    # Exhausting the host's semaphores would disturb everything else on the machine. Creating a
    # POSIX semaphore needs a descriptor, so this process's RLIMIT_NOFILE is lowered until none
    # is left (a probe semaphore must fail with EMFILE), and restored right after the attempt.
    # The creation then fails at its first object; nothing may be left of it.
    Given create maximum allowed semaphores
    When attempt to create buffer 'test-sem-exhaustion'
    Then the creation should fail with system error
    And appropriate error handling should occur
    And partial resources should be cleaned up

  @multi-user
  Scenario: Test 10.6 - Permission Errors
    # Needs two OS accounts, and each role's process started as its user. The buffer's objects
    # get mode 0600 right after creation; the other user's connection must be refused.
    Given the reader is 'user1'
    And the 'reader' process creates buffer 'test-permissions' with restrictive permissions
    When the writer is 'user2'
    And another writer attempts to connect without permissions
    Then permission denied error should be handled
    And no resource corruption should occur
